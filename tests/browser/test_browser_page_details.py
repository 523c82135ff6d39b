"""Page details in Chromium: the compact model picker, the heatmap over its picture at every
width, timecoded charts whose points open the player there, the spectrogram's axes, numbers
that do not break, the colour theme toggle and the phone layout of the run report."""

from __future__ import annotations

import re

import pytest
from mlserver.detectors import BUILTIN_DETECTORS

from media_analysis.choices import MediaType
from tests.factories import (
    DEFAULT_PASSWORD,
    UserFactory,
    audio_result_payload,
    image_result_payload,
    video_result_payload,
)
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import finished_run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UPLOAD_SCREEN = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 800}
HEATMAP_WIDTHS = (375, 900, 1366)
# Long enough to need wrapping in a phone's table cell.
LONG_MODEL = "SPATIO-TEMPORAL-TRANSFORMER-ENSEMBLE-V2"
VIDEO_SECONDS = 4.0
TIMECODE = re.compile(r"^\d+:\d{2}(?:\.\d)?$")
LIGHT_BACKGROUND = "rgb(246, 247, 249)"
DARK_BACKGROUND = "rgb(13, 17, 23)"
BOX = """(selector) => {
    const box = document.querySelector(selector).getBoundingClientRect();
    return [box.x, box.y, box.width, box.height];
}"""
# How many lines the text of each element matching the selector takes.
LINE_COUNTS = """(selector) => Array.from(document.querySelectorAll(selector)).map((element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const lines = new Set(Array.from(range.getClientRects()).map((rect) => Math.round(rect.top)));
    return [element.textContent.trim(), lines.size];
})"""
BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"


@pytest.fixture
def browser_inference(fake_inference_factory, fast_pipeline):
    """As many models as `make run`'s reference server, with its names, flags and descriptions."""
    return fake_inference_factory(
        [
            FakeModel(
                detector.name,
                video=detector.is_video,
                audio=detector.is_audio,
                image=detector.is_image,
                multimodal=detector.is_multimodal,
                description=detector.description,
                accepted_formats=sorted(detector.accepted_formats)
                if detector.accepted_formats
                else None,
            )
            for detector in BUILTIN_DETECTORS
        ]
    )


def log_in(page, server: str, email: str) -> None:
    page.goto(f"{server}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/")


@pytest.fixture
def reports(transactional_db, media_file) -> dict:
    """A playable video with a settled run of two video models, an image and an audio report."""
    user = UserFactory()
    clip = stored_media(
        owner=user,
        extension="webm",
        mimetype="video/webm",
        content=media_file("clip.webm", seconds=VIDEO_SECONDS).read_bytes(),
        original_filename="clip.webm",
        metadata={
            "format": {"formatName": "matroska,webm", "duration": VIDEO_SECONDS},
            "video": {"codec": "vp8", "width": 160, "height": 120, "fps": 15.0},
        },
    )
    video_run = finished_run(
        clip,
        models=((LONG_MODEL, "FAKE", 0.825), ("COLOR-CUES-LSTM-V1", "REAL", 0.7)),
        payload=lambda **options: video_result_payload(frames=40, **options),
    )
    picture = stored_media(
        owner=user,
        media_type=MediaType.IMAGE,
        extension="png",
        mimetype="image/png",
        content=media_file("photo.png", size="320x240").read_bytes(),
        original_filename="photo.png",
    )
    image = finished_run(
        picture, models=(("ELA-JPEG-V1", "FAKE", 0.66),), payload=image_result_payload
    )
    sound = stored_media(
        owner=user,
        media_type=MediaType.AUDIO,
        extension="wav",
        mimetype="audio/wav",
        content=media_file("voice.wav").read_bytes(),
        original_filename="voice.wav",
    )
    audio = finished_run(
        sound, models=(("AUDIO-SPECTRUM-V1", "REAL", 0.8),), payload=audio_result_payload
    )
    return {
        "email": user.email,
        "media": clip.pk,
        "run": video_run.pk,
        "video_analysis": video_run.analyses.get(model_name=LONG_MODEL).pk,
        "image": image.analyses.get().pk,
        "audio": audio.analyses.get().pk,
    }


def test_upload_page_lists_every_model_on_one_line_and_fits_one_screen(
    video, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    page.set_viewport_size(UPLOAD_SCREEN)
    log_in(page, asgi_server, video["email"])

    page.goto(f"{asgi_server}/upload/")
    screenshot(page, "upload-model-picker-1366x900")
    rows = page.locator("[data-model-choice] li[data-model]")
    assert rows.count() == len(BUILTIN_DETECTORS)
    heights = page.eval_on_selector_all(
        "[data-model-choice] li[data-model]", "items => items.map(item => item.offsetHeight)"
    )
    line = page.evaluate("() => parseFloat(getComputedStyle(document.body).lineHeight)")
    assert all(height < 2 * line for height in heights), heights
    # The whole upload form, its button included, is on the first screen without scrolling
    # (the separate link form may follow below it).
    form = page.evaluate(BOX, "#upload-form")
    assert form[1] + form[3] <= UPLOAD_SCREEN["height"]
    assert page.get_by_role("button", name="Upload and analyse").is_visible()

    first = BUILTIN_DETECTORS[0]
    description = page.locator(f'li[data-model="{first.name}"] .model-description')
    assert not description.is_visible()
    page.get_by_text(f"Details of {first.name}").click()
    assert description.is_visible()
    assert problems.messages == []


def test_theme_toggle_switches_to_dark_keeps_it_and_follows_the_system(
    video, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    log_in(page, asgi_server, video["email"])
    toggle = page.locator("[data-theme-toggle]")
    assert toggle.inner_text() == "Theme: System"
    assert page.evaluate(BACKGROUND) == LIGHT_BACKGROUND

    toggle.click()
    assert toggle.inner_text() == "Theme: Light"
    toggle.click()
    assert toggle.inner_text() == "Theme: Dark"
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert page.evaluate(BACKGROUND) == DARK_BACKGROUND

    page.reload()
    assert page.evaluate(BACKGROUND) == DARK_BACKGROUND
    assert toggle.inner_text() == "Theme: Dark"
    screenshot(page, "dark-mode-dashboard")

    # "System" follows the operating system's setting either way; "Light" overrides a dark one.
    toggle.click()
    assert toggle.inner_text() == "Theme: System"
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(BACKGROUND) == DARK_BACKGROUND
    toggle.click()
    assert page.evaluate(BACKGROUND) == LIGHT_BACKGROUND

    # Charts take the new colours at once: their tick text follows the theme's muted colour.
    page.goto(f"{asgi_server}/runs/{video['run']}/")
    tick_color = "() => Chart.getChart('timeline-chart').options.scales.x.ticks.color"
    light_ticks = page.evaluate(tick_color)
    toggle.click()
    assert toggle.inner_text() == "Theme: Dark"
    assert page.evaluate(tick_color) != light_ticks
    assert page.evaluate(tick_color) == page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--muted').trim()"
    )
    assert problems.messages == []


@pytest.fixture
def video(transactional_db):
    """A user with one analysed (not playable) video, made before the browser starts."""
    user = UserFactory()
    media = stored_media(owner=user, original_filename="interview.mp4")
    run = finished_run(media)
    return {"email": user.email, "run": run.pk}


def test_image_heatmap_covers_the_picture_at_every_width(
    reports, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    log_in(page, asgi_server, reports["email"])
    for width in HEATMAP_WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{asgi_server}/analyses/{reports['image']}/")
        page.wait_for_function("() => document.getElementById('heatmap-image').complete")
        image = page.evaluate(BOX, "#heatmap-image")
        overlay = page.evaluate(BOX, "#heatmap-canvas")
        assert image[2] > 100
        assert all(abs(a - b) <= 1 for a, b in zip(image, overlay, strict=True)), (
            width,
            image,
            overlay,
        )
        if width in (375, 1366):
            screenshot(page, f"analysis-image-heatmap-{width}")
    assert problems.messages == []


def test_spectrogram_has_time_and_frequency_axes(reports, asgi_server, browser_page, screenshot):
    page, problems = browser_page
    log_in(page, asgi_server, reports["email"])
    page.goto(f"{asgi_server}/analyses/{reports['audio']}/")

    assert page.locator('[data-axis-title="y"]').inner_text() == "Frequency (kHz)"
    assert page.locator('[data-axis-title="x"]').inner_text() == "Time (s)"
    # The payload: 16 kHz audio (0-8 kHz) over 2 s.
    y_ticks = page.locator('[data-axis="y"] .axis-tick').all_inner_texts()
    x_ticks = page.locator('[data-axis="x"] .axis-tick').all_inner_texts()
    assert y_ticks[0] == "0" and y_ticks[-1] == "8"
    assert x_ticks[0] == "0" and x_ticks[-1] == "2"
    # The top frequency tick sits at the spectrogram's top edge, the last time tick at its right.
    canvas = page.evaluate(BOX, "#spectrogram")
    top = page.locator('[data-axis="y"] .axis-tick').last.bounding_box()
    right = page.locator('[data-axis="x"] .axis-tick').last.bounding_box()
    assert abs(top["y"] + top["height"] / 2 - canvas[1]) <= 2
    assert abs(right["x"] + right["width"] / 2 - (canvas[0] + canvas[2])) <= 2
    figures = page.evaluate(LINE_COUNTS, ".figure-card dd")
    assert ["1,830.2", 1] in figures
    assert all(lines == 1 for _, lines in figures), figures
    screenshot(page, "analysis-audio-spectrogram")
    assert problems.messages == []


def chart_point(page, canvas_id: str, dataset: int, index: int) -> dict:
    return page.evaluate(
        """([id, dataset, index]) => {
            const chart = Chart.getChart(id);
            const element = chart.getDatasetMeta(dataset).data[index];
            return {x: element.x, y: element.y, t: chart.data.datasets[dataset].data[index].x,
                    ticks: chart.scales.x.ticks.map((tick) => tick.label),
                    title: chart.options.scales.x.title.text};
        }""",
        [canvas_id, dataset, index],
    )


def test_report_charts_use_timecodes_and_a_click_plays_the_media_there(
    reports, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    log_in(page, asgi_server, reports["email"])
    page.goto(f"{asgi_server}/runs/{reports['run']}/")
    point = chart_point(page, "timeline-chart", 0, 30)
    assert point["title"] == "Time in the media (m:ss)"
    assert point["ticks"] and all(TIMECODE.match(label) for label in point["ticks"])
    assert 1 < point["t"] < VIDEO_SECONDS
    screenshot(page, "run-report-timecodes")

    page.locator("#timeline-chart").click(position={"x": point["x"], "y": point["y"]})
    page.wait_for_url(re.compile(rf"/media/{reports['media']}/\?t="))
    page.wait_for_function(
        "(t) => Math.abs(document.querySelector('#player video').currentTime - t) < 0.2",
        arg=point["t"],
    )

    page.goto(f"{asgi_server}/analyses/{reports['video_analysis']}/")
    point = chart_point(page, "frames-chart", 0, 10)
    assert point["title"] == "Time in the media (m:ss)"
    assert all(TIMECODE.match(label) for label in point["ticks"])
    page.locator("#frames-chart").click(position={"x": point["x"], "y": point["y"]})
    page.wait_for_url(re.compile(rf"/media/{reports['media']}/\?t="))
    page.wait_for_function(
        "(t) => Math.abs(document.querySelector('#player video').currentTime - t) < 0.2",
        arg=point["t"],
    )
    assert problems.messages == []


def test_phone_run_report_shows_whole_names_unbroken_numbers_and_a_scroll_hint(
    reports, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    log_in(page, asgi_server, reports["email"])
    page.set_viewport_size(PHONE)
    page.goto(f"{asgi_server}/runs/{reports['run']}/")

    name = page.locator(".models-table tbody th", has_text=LONG_MODEL)
    assert name.inner_text() == LONG_MODEL
    assert name.evaluate("(cell) => cell.scrollWidth <= cell.clientWidth")
    assert name.evaluate("(cell) => getComputedStyle(cell).textOverflow") != "ellipsis"

    numbers = page.evaluate(LINE_COUNTS, ".models-table td.num, .stat dd")
    assert ["82.5 %", 1] in numbers
    assert all(lines == 1 for _, lines in numbers), numbers

    hint = page.locator(".models-table").locator("xpath=ancestor::div[1]/following-sibling::p[1]")
    assert hint.inner_text() == "Scroll sideways for more →"
    assert hint.is_visible()
    screenshot(page, "phone-run-report-375")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.scroll-hint')).every((hint) => hint.hidden)"
    )
    assert problems.messages == []
