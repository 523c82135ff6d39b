"""A user's whole journey in headless Chromium against the real stack.

Sign up, upload a generated video of a few MB over a throttled network so the progress bar moves
step by step, watch the analysis finish live on the media page without reloading, read the run
and model reports (charts drawn), download the PDF through its link, edit the description in the
dashboard's popover from the keyboard, delete with the confirmation dialog. Every page is
screenshotted and must log no console error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT
from tests.fixtures.media_files import make_noisy_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase-42"
UUID = r"[0-9a-f-]{36}"
PHONE_VIEWPORT = {"width": 390, "height": 844}
FINAL_STATUSES = ("ANALYZED", "PARTIALLY_ANALYZED", "FAILED")
# The clip (about 3.3 MB) goes up at this rate, so the upload takes a little over two seconds and
# the browser reports its progress many times on the way.
UPLOAD_BYTES_PER_SECOND = 1_500_000
# What upload.js shows while sending: "37 % · 1.2 MB of 3.3 MB · 1.4 MB/s · about 2 s left".
SIZE = r"\d+(?:\.\d)? (?:bytes|KB|MB|GB)"
UNIT_BYTES = {"bytes": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
UPLOAD_STATS = re.compile(
    rf"^(?P<percent>\d{{1,2}}) % · (?P<sent>{SIZE}) of (?P<total>{SIZE}) · (?P<speed>{SIZE})/s"
    r" · about (?:\d+ min )?\d+ s left$"
)
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


@contextmanager
def uploads_throttled(page, bytes_per_second: int) -> Iterator[None]:
    """Limit what the page may send per second, as DevTools does. The limit lasts only as long
    as the DevTools session that set it, hence the session is held open until the block ends."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    conditions = {"offline": False, "latency": 0, "downloadThroughput": -1}
    session.send(
        "Network.emulateNetworkConditions", {**conditions, "uploadThroughput": bytes_per_second}
    )
    try:
        yield
    finally:
        session.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": -1})
        session.detach()


def shown_size(size: int) -> str:
    """A size as upload.js formats it (1024-based, one decimal)."""
    value, unit = float(size), 0
    units = ["bytes", "KB", "MB", "GB"]
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{size} bytes" if unit == 0 else f"{value:.1f} {units[unit]}"


def size_in_bytes(shown: str) -> float:
    number, unit = shown.split(" ")
    return float(number) * UNIT_BYTES[unit]


# Whether the element itself is what the user sees (and would click) at its centre.
UNCOVERED = """(element) => {
    const box = element.getBoundingClientRect();
    const seen = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
    return element.contains(seen);
}"""


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
    asgi_server, browser_page, screenshot, pipeline_worker, tmp_path
):
    page, problems = browser_page
    clip = make_noisy_video(tmp_path / "clip.mp4")
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    fake_video = tmp_path / "fake.mp4"
    fake_video.write_bytes(b"this is not a video at all" * 10)

    # --- Sign up --------------------------------------------------------------------------------
    page.goto(f"{asgi_server}/accounts/login/")
    screenshot(page, "login")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").wait_for()
    screenshot(page, "signup")
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
    page.get_by_label("Description", exact=True).fill("Clip from the evening bulletin")
    progress.clear()  # only this upload's values, not those of the refused one
    with uploads_throttled(page, UPLOAD_BYTES_PER_SECOND):
        page.get_by_role("button", name="Upload and analyse").click()
        page.wait_for_url(re.compile(rf"{asgi_server}/media/{UUID}/$"))

    values = [value for value, _ in progress]
    assert any(0 < value < 100 for value in values), f"no step between 0 and 100: {values}"
    assert values == sorted(values), f"the bar went backwards: {values}"
    assert values[-1] == 100
    total = shown_size(Path(clip).stat().st_size)
    steps = [UPLOAD_STATS.match(text) for value, text in progress if 0 < value < 100]
    steps = [step for step in steps if step]
    assert steps, f"no percent · bytes · speed · time left shown: {[t for _, t in progress]}"
    assert {step["total"] for step in steps} == {total}
    assert {int(step["percent"]) for step in steps} <= {int(value) for value in values}
    # The speed is measured, not made up: it cannot beat the network's limit (one decimal shown).
    speed = size_in_bytes(steps[-1]["speed"])
    assert 0 < speed <= UPLOAD_BYTES_PER_SECOND * 1.05, steps[-1].string

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
    # Each model's confidence (0-100 %) sits in the series of its prediction, in its own colour.
    confidence = page.evaluate(
        """() => {
            const chart = Chart.getChart('confidence-chart');
            return chart.data.datasets.map((dataset) => ({
                label: dataset.label,
                color: dataset.backgroundColor,
                bars: Object.fromEntries(chart.data.labels
                    .map((model, index) => [model, dataset.data[index]])
                    .filter(([, value]) => value !== null && value !== undefined)),
            }));
        }"""
    )
    assert {series["label"]: series["bars"] for series in confidence} == {
        "Predicted fake": {"SIGLIP-LSTM-V4": 90},
        "Predicted real": {"COLOR-CUES-LSTM-V1": 70},
    }
    assert all(0 < value <= 100 for series in confidence for value in series["bars"].values())
    assert confidence[0]["color"] != confidence[1]["color"]
    assert chart_points(page, "time-chart") == [2]
    # (0.9 + (1 - 0.7)) / 2 = 0.6 fake probability: above the 0.55 threshold.
    assert page.locator(".verdict-label").inner_text() == "Likely deepfake"
    screenshot(page, "run")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "run-dark")
    page.emulate_media(color_scheme="light")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF report").click()
    download = download_info.value
    assert download.failure() is None
    # The report is named after its run and the day it was made, in the server's time zone (UTC).
    media_id = re.search(rf"/media/({UUID})/$", media_url).group(1)
    answer = page.request.get(f"{asgi_server}/api/v1/media/{media_id}").json()
    created = datetime.fromisoformat(answer["data"]["latestRun"]["createdAt"])
    assert download.suggested_filename == (
        f"clip_run-{answer['data']['latestRun']['runNumber']}_{created.astimezone(UTC):%Y%m%d}.pdf"
    )
    assert Path(download.path()).read_bytes().startswith(b"%PDF")

    # --- Model report ----------------------------------------------------------------------------
    page.get_by_role("link", name="Model report of SIGLIP-LSTM-V4").click()
    page.wait_for_url(re.compile(rf"{asgi_server}/analyses/{UUID}/$"))
    page.wait_for_function("() => Chart.getChart('frames-chart') !== undefined")
    assert all(count > 0 for count in chart_points(page, "frames-chart"))
    assert sum(page.evaluate("() => Chart.getChart('histogram-chart').data.datasets[0].data")) > 0
    assert page.evaluate("() => document.getElementById('heat-strip').width") > 0
    screenshot(page, "model-report")

    # --- The pages that stand in for the dialogs without scripts ---------------------------------
    page.goto(f"{media_url}edit/")
    assert page.get_by_role("heading", name="Description of clip.mp4").is_visible()
    screenshot(page, "media-edit")
    page.goto(f"{media_url}delete/")
    assert page.get_by_role("heading", name="Delete clip.mp4?").is_visible()
    screenshot(page, "media-delete")
    page.get_by_role("link", name="Keep it").click()
    page.wait_for_url(media_url)

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

    # The Edit popover: opening moves focus to its field, Escape closes it and returns to "Edit".
    popover = row.locator("details.popover")
    trigger = popover.locator("summary")
    trigger.focus()
    page.keyboard.press("Enter")
    assert popover.evaluate("details => details.open") is True
    field = popover.get_by_label("Description")
    expect(field).to_be_focused()
    assert field.input_value() == "Clip from the evening bulletin"
    # Nothing clips the open popover: its Save button is on screen, not scrolled out of sight.
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert popover.get_by_role("button", name="Save").evaluate(UNCOVERED) is True
    screenshot(page, "dashboard-edit")
    page.keyboard.press("Escape")
    assert popover.evaluate("details => details.open") is False
    expect(trigger).to_be_focused()
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
