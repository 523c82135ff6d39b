"""Handing a report over in Chromium: the owner makes a share link on the run page, and a browser
that never logged in opens it, reads the verdict and downloads the PDF."""

from __future__ import annotations

import pytest

from media_analysis.choices import MediaType
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import finished_run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_run(transactional_db, media_file) -> dict:
    user = UserFactory()
    media = stored_media(
        owner=user,
        media_type=MediaType.VIDEO,
        extension="mp4",
        mimetype="video/mp4",
        content=media_file("clip.mp4").read_bytes(),
        original_filename="clip.mp4",
    )
    run = finished_run(media, number=2)
    return {"email": user.email, "run": run.pk}


def test_owner_shares_a_run_and_a_stranger_reads_it(
    shared_run, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    page.goto(f"{asgi_server}/accounts/login/")
    page.get_by_label("Email").fill(shared_run["email"])
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server}/")

    page.goto(f"{asgi_server}/runs/{shared_run['run']}/")
    page.get_by_label("Who it is for").fill("Night editor")
    page.get_by_label("Works for").select_option("1")
    page.get_by_role("button", name="Create share link").click()
    url = page.get_by_label("Share link").input_value()
    assert url.startswith(f"{asgi_server}/share/")
    # The copy button is the script's: hidden until it runs.
    page.get_by_role("button", name="Copy link").wait_for(state="visible")
    assert page.get_by_role("cell", name="Active").is_visible()
    screenshot(page, "share-owner-run-page")

    stranger = page.context.browser.new_context(viewport=page.viewport_size)
    try:
        reader = stranger.new_page()
        reader.on("console", problems.record_console)
        reader.on("pageerror", problems.record_exception)
        reader.goto(url)
        assert reader.url == url  # no redirect to the login page
        assert reader.get_by_text("Likely deepfake", exact=True).is_visible()
        assert reader.get_by_text("A read-only report shared with you").is_visible()
        assert reader.get_by_role("heading", name="Share").count() == 0
        assert reader.get_by_role("link", name="Log in").is_visible()
        pdf_href = reader.get_by_role("link", name="Download PDF report").get_attribute("href")
        assert pdf_href == url.removeprefix(asgi_server) + "pdf"
        pdf = stranger.request.get(f"{asgi_server}{pdf_href}")
        assert pdf.status == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF")
        screenshot(reader, "share-recipient-view")
    finally:
        stranger.close()

    assert problems.messages == []
