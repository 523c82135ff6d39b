"""Batch upload in headless Chromium: several files chosen at once are listed one row each, checked
before sending, sent one request each, and each row ends with its own outcome; the refused files
do not stop the others."""

from __future__ import annotations

import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.media_files import make_image, make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROW = "#batch-queue .batch-row"


def _log_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def uploader_email(transactional_db) -> str:
    # Made before the browser starts: the ORM refuses to run beside Playwright's event loop.
    return UserFactory().email


def test_several_files_each_get_a_row_progress_and_outcome(
    uploader_email, asgi_server, browser_page, screenshot, tmp_path
):
    page, problems = browser_page
    clip = make_video(tmp_path / "clip.mp4")
    photo = make_image(tmp_path / "photo.png")
    extra = make_image(tmp_path / "extra.png", size="32x24")
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    fake_video = tmp_path / "fake.mp4"
    fake_video.write_bytes(b"this is not a video at all" * 10)
    _log_in(page, asgi_server, uploader_email)
    page.goto(f"{asgi_server}/upload/")

    page.set_input_files(
        "#id_media", [str(clip), str(notes), str(fake_video), str(photo), str(extra)]
    )

    rows = page.locator(ROW)
    assert rows.count() == 5
    assert page.locator("#selected-file").inner_text().startswith("5 files")
    page.get_by_role("button", name="Remove extra.png").click()
    assert rows.count() == 4
    assert page.evaluate("() => document.getElementById('id_media').files.length") == 4
    names = [rows.nth(index).locator(".batch-name").inner_text() for index in range(4)]
    assert names == ["clip.mp4", "notes.txt", "fake.mp4", "photo.png"]
    # The type check happens before anything is sent.
    assert rows.nth(1).get_attribute("data-state") == "invalid"
    assert "Files with .txt are not accepted." in rows.nth(1).inner_text()
    assert [rows.nth(index).get_attribute("data-state") for index in (0, 2, 3)] == ["ready"] * 3
    page.locator("#id_description").fill("Desk batch")
    screenshot(page, "batch-upload-chosen")

    page.get_by_role("button", name="Upload and analyse").click()
    summary = page.locator("#batch-summary")
    summary.wait_for(state="visible")

    assert summary.inner_text().startswith("2 of 4 uploaded.")
    assert summary.get_by_role("link", name="Go to the dashboard").get_attribute("href") == "/"
    states = [rows.nth(index).get_attribute("data-state") for index in range(4)]
    assert states == ["done", "failed", "failed", "done"]
    # The file only the server could refuse shows the server's own message.
    assert "could not be read as media" in rows.nth(2).inner_text()
    assert "Not uploaded" in rows.nth(1).inner_text()
    for index in (0, 3):
        assert rows.nth(index).locator("progress").evaluate("(bar) => bar.value") == 100
    listed = page.request.get(f"{asgi_server}/api/v1/media").json()["data"]
    stored = {media["filename"]: media for media in listed}
    assert set(stored) == {"clip.mp4", "photo.png"}
    assert all(media["description"] == "Desk batch" for media in stored.values())
    link = rows.nth(0).get_by_role("link", name="Open clip.mp4")
    assert link.get_attribute("href") == f"/media/{stored['clip.mp4']['id']}/"
    assert page.url == f"{asgi_server}/upload/"
    screenshot(page, "batch-upload-done")

    # The one request refused is the server's answer about fake.mp4; nothing else went wrong.
    refusal = f"({asgi_server}/api/v1/media)"
    assert [message for message in problems.messages if refusal not in message] == []
