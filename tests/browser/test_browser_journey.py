"""A user's whole journey in headless Chromium against the real stack.

Sign up, upload a generated video with the progress bar, watch the analysis finish live on the
media page without reloading, read the run and model reports (charts drawn), download the PDF,
delete with the confirmation dialog. Every page is screenshotted and must log no console error.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import VIEWPORT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase-42"
UUID = r"[0-9a-f-]{36}"
PHONE_VIEWPORT = {"width": 390, "height": 844}
FINAL_STATUSES = ("ANALYZED", "PARTIALLY_ANALYZED", "FAILED")
# Records every value the upload bar and its text take, across the page's lifetime: the page
# navigates away the moment the upload is stored, faster than a test could poll.
RECORD_UPLOAD_PROGRESS = """
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.getElementById("upload-bar");
  const stats = document.getElementById("upload-stats");
  if (!bar) return;
  new MutationObserver(() => window.recordUploadProgress(Number(bar.value), stats.textContent))
    .observe(bar.parentElement, {attributes: true, childList: true, subtree: true,
                                 characterData: true});
});
"""


def chart_points(page, canvas_id: str) -> list[int]:
    """How many data points each dataset of the Chart.js chart on `canvas_id` holds."""
    return page.evaluate(
        """(id) => {
            const chart = Chart.getChart(id);
            return chart ? chart.data.datasets.map((dataset) => dataset.data.length) : [];
        }""",
        canvas_id,
    )


def test_sign_up_upload_watch_live_read_reports_and_delete(
    asgi_server, browser_page, screenshot, media_file, pipeline_worker, tmp_path
):
    page, problems = browser_page
    clip = media_file("clip.mp4", seconds=2)
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    fake_video = tmp_path / "fake.mp4"
    fake_video.write_bytes(b"this is not a video at all" * 10)

    # --- Sign up --------------------------------------------------------------------------------
    page.goto(f"{asgi_server}/accounts/login/")
    screenshot(page, "login")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").fill("journalist@example.com")
    page.get_by_label("First name").fill("Maya")
    page.get_by_label("Last name").fill("Rao")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{asgi_server}/")
    assert page.get_by_text("Nothing uploaded yet.").is_visible()

    # --- Upload with the progress bar ------------------------------------------------------------
    progress: list[tuple[float, str]] = []
    page.expose_function("recordUploadProgress", lambda value, text: progress.append((value, text)))
    page.add_init_script(RECORD_UPLOAD_PROGRESS)
    page.get_by_role("link", name="Upload media").click()
    page.wait_for_url(f"{asgi_server}/upload/")
    assert page.locator("[data-model-choice] li[data-model]").count() == 2
    screenshot(page, "upload")
    # The server's rules are checked before anything is sent...
    page.set_input_files("#id_media", str(notes))
    assert "Files with .txt are not accepted." in page.locator("#media-errors").inner_text()
    page.get_by_role("button", name="Upload and analyse").click()
    assert page.locator("#upload-errors").inner_text() == "The file cannot be uploaded."
    # ...and what only the server can tell comes back as the envelope's message.
    page.set_input_files("#id_media", str(fake_video))
    page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_function("() => !document.getElementById('upload-errors').hidden")
    assert "could not be read as media" in page.locator("#upload-errors").inner_text()
    assert page.url == f"{asgi_server}/upload/"
    page.set_input_files("#id_media", str(clip))
    assert "clip.mp4" in page.locator("#selected-file").inner_text()
    page.get_by_label("Description").fill("Clip from the evening bulletin")
    page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_url(re.compile(rf"{asgi_server}/media/{UUID}/$"))

    assert progress, "the upload bar never moved"
    assert max(value for value, _ in progress) == 100
    assert any(text.startswith("100 %") for _, text in progress)

    # --- The media page follows the analysis live ------------------------------------------------
    status = page.locator('[data-live-fragment="media-status"] .badge')
    assert status.get_attribute("data-status") in ("QUEUED", "PROCESSING")
    screenshot(page, "media-live")
    page.evaluate("window.stillTheSamePage = true")
    page.wait_for_function(
        """(finals) => finals.includes(document.querySelector(
            '[data-live-fragment="media-status"] .badge')?.dataset.status)""",
        arg=list(FINAL_STATUSES),
    )
    assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
    assert status.get_attribute("data-status") == "ANALYZED"
    rows = page.locator("details.run[open] tr[data-analysis-model]")
    assert rows.count() == 2
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.analysisStatus)")) == {
        "COMPLETED"
    }
    assert page.locator("video").get_attribute("src").endswith("/file")
    screenshot(page, "media")
    media_url = page.url

    # --- Run report with its charts --------------------------------------------------------------
    page.get_by_role("link", name="Run report").first.click()
    page.wait_for_url(re.compile(rf"{asgi_server}/runs/{UUID}/$"))
    page.wait_for_function("() => Chart.getChart('timeline-chart') !== undefined")
    timeline = chart_points(page, "timeline-chart")
    assert len(timeline) == 3 and all(count > 0 for count in timeline)  # 2 models + 50 % line
    assert chart_points(page, "confidence-chart") == [2, 2]
    assert chart_points(page, "time-chart") == [2]
    # (0.9 + (1 - 0.7)) / 2 = 0.6 fake probability: above the 0.55 threshold.
    assert page.locator(".verdict-label").inner_text() == "Likely deepfake"
    screenshot(page, "run")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "run-dark")
    page.emulate_media(color_scheme="light")

    pdf_href = page.get_by_role("link", name="Download PDF report").get_attribute("href")
    pdf = page.request.get(f"{asgi_server}{pdf_href}")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # --- Model report ----------------------------------------------------------------------------
    page.get_by_role("link", name="Model report of SIGLIP-LSTM-V4").click()
    page.wait_for_url(re.compile(rf"{asgi_server}/analyses/{UUID}/$"))
    page.wait_for_function("() => Chart.getChart('frames-chart') !== undefined")
    assert all(count > 0 for count in chart_points(page, "frames-chart"))
    assert sum(page.evaluate("() => Chart.getChart('histogram-chart').data.datasets[0].data")) > 0
    assert page.evaluate("() => document.getElementById('heat-strip').width") > 0
    screenshot(page, "model-report")

    # --- Dashboard: a re-run's status follows live, then delete behind the dialog ---------------
    page.goto(f"{asgi_server}/")
    row = page.locator("tr[data-media-id]")
    assert row.count() == 1
    badge = row.locator('[data-cell="status"] .badge')
    assert badge.inner_text() == "Analyzed"
    with page.expect_navigation():
        row.get_by_role("button", name="Re-run clip.mp4").click()
    assert page.get_by_text("Run #2 of clip.mp4 is queued.").is_visible()
    assert badge.get_attribute("data-status") in ("QUEUED", "PROCESSING")
    page.evaluate("window.stillTheSamePage = true")
    badge.and_(page.locator('[data-status="ANALYZED"]')).wait_for()
    assert page.evaluate("window.stillTheSamePage") is True, "the dashboard was reloaded"
    assert row.locator('[data-cell="verdict"]').inner_text().startswith("Likely deepfake")
    assert row.get_by_role("button", name="Re-run clip.mp4").is_enabled()
    screenshot(page, "dashboard")
    page.set_viewport_size(PHONE_VIEWPORT)
    screenshot(page, "dashboard-phone")
    page.set_viewport_size(VIEWPORT)
    delete = row.get_by_role("button", name="Delete clip.mp4")
    delete.click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.evaluate("dialog => dialog.open") is True
    assert "cannot be undone" in dialog.inner_text()
    page.keyboard.press("Escape")
    assert dialog.evaluate("dialog => dialog.open") is False
    assert page.evaluate("() => document.activeElement.textContent").startswith("Delete")
    delete.click()
    with page.expect_navigation():
        dialog.get_by_role("button", name="Delete").click()
    assert page.get_by_text("clip.mp4 and its analyses were deleted.").is_visible()
    assert page.locator("tr[data-media-id]").count() == 0
    assert page.request.get(media_url).status == 404

    # The refused upload above is the one failed request Chromium reports; nothing else.
    refusal = f"status of 400 (Bad Request) ({asgi_server}/api/v1/media)"
    assert [message for message in problems.messages if refusal in message] != []
    assert [message for message in problems.messages if refusal not in message] == []
