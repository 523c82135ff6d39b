"""Page details on the server side: chart times from the media's duration, the spectrogram's
axis spans, the compact model picker, the theme script in <head>, and the site's own 404 page
under the environment `make run` starts the web server with."""

from __future__ import annotations

import os
import socket

import pytest
import requests
from django.urls import reverse

from drishtiksha import runner
from media_analysis.choices import MediaType
from tests.factories import audio_result_payload, video_result_payload
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import FAST_PIPELINE_ENV, _test_database_url, stored_media
from tests.fixtures.servers import uvicorn_serving
from tests.pages.conftest import finished_run, json_script

FRAMES = 50


def short_payload(**options) -> dict:
    return video_result_payload(frames=FRAMES, **options)


def test_run_and_model_charts_place_frame_scores_in_time(browser, video):
    """The video lasts 125.4 s: the last of 50 frame scores is at its end, the middle one
    halfway, and the run chart says how long the media is."""
    run = finished_run(video, payload=short_payload)
    run_charts = json_script(
        browser.get(reverse("media:run", args=[run.pk])).content.decode(), "run-chart-data"
    )
    assert run_charts["duration"] == 125.4

    analysis = run.analyses.get()
    html = browser.get(reverse("media:analysis", args=[analysis.pk])).content.decode()
    frames = json_script(html, "analysis-chart-data")["video"]["frames"]
    assert frames[0] == {"x": 0, "y": pytest.approx(50.0), "t": 0}
    assert frames[-1]["x"] == FRAMES - 1
    assert frames[-1]["t"] == pytest.approx(125.4)
    assert frames[25]["t"] == pytest.approx(125.4 * 25 / (FRAMES - 1), abs=1e-3)
    assert f'data-seek-url="{reverse("media:detail", args=[video.pk])}"' in html


def test_without_a_duration_charts_keep_indices_and_offer_no_seeking(browser, owner):
    media = stored_media(owner=owner, metadata={"format": {"duration": None}})
    run = finished_run(media, payload=short_payload)
    html = browser.get(reverse("media:run", args=[run.pk])).content.decode()
    assert json_script(html, "run-chart-data")["duration"] is None
    assert "data-seek-url" not in html

    page = browser.get(reverse("media:analysis", args=[run.analyses.get().pk])).content.decode()
    video_data = json_script(page, "analysis-chart-data")["video"]
    assert video_data["duration"] is None
    assert all("t" not in point for point in video_data["frames"])


def test_spectrogram_gets_its_frequency_and_time_spans_from_the_payload(browser, owner):
    sound = stored_media(owner=owner, media_type=MediaType.AUDIO, extension="wav")

    def reference_shaped(**options) -> dict:
        payload = audio_result_payload(**options)
        payload["metrics"] = {
            "analysis_sample_rate": 44100,
            "nyquist_hz": 22050.0,
            "analysed_seconds": 3.5,
        }
        return payload

    with_metrics = finished_run(sound, payload=reference_shaped)
    html = browser.get(
        reverse("media:analysis", args=[with_metrics.analyses.get().pk])
    ).content.decode()
    spectrogram = json_script(html, "analysis-chart-data")["spectrogram"]
    assert (spectrogram["maxHz"], spectrogram["seconds"]) == (22050.0, 3.5)
    assert "Frequency (kHz)" in html
    assert "Time (s)" in html

    # The public server's shape: only the file's properties (16 kHz over 2 s).
    plain = finished_run(sound, number=2, payload=audio_result_payload)
    html = browser.get(reverse("media:analysis", args=[plain.analyses.get().pk])).content.decode()
    spectrogram = json_script(html, "analysis-chart-data")["spectrogram"]
    assert (spectrogram["maxHz"], spectrogram["seconds"]) == (8000.0, 2.0)


def test_model_picker_puts_each_models_details_behind_a_disclosure(browser, fake_inference_factory):
    fake_inference_factory(
        [
            FakeModel(
                "ELA-JPEG-V1",
                image=True,
                description="Error level analysis of JPEG recompression.",
                accepted_formats=["png", "jpg"],
            ),
            FakeModel("TEMPORAL-CONSISTENCY-V1", video=True),
        ]
    )
    html = browser.get(reverse("media:upload")).content.decode()
    item = html[html.index('<li data-model="ELA-JPEG-V1"') :]
    item = item[: item.index("</li>")]
    details = item[item.index('<details class="model-details">') :]
    assert "Error level analysis of JPEG recompression." in details
    assert "Accepts jpg, png" in details
    assert '<span class="tag">Image</span>' in item[: item.index("<details")]


def test_every_page_loads_the_theme_script_in_its_head_and_has_the_toggle(browser):
    html = browser.get(reverse("home")).content.decode()
    head = html[: html.index("</head>")]
    assert '<script src="/static/js/theme.js"></script>' in head
    assert (
        "data-theme-toggle"
        in html[html.index('<header class="site-header">') : html.index("</header>")]
    )


def test_make_run_starts_without_debug_unless_asked(tmp_path):
    base = {"DRISHTIKSHA_VAR_DIR": str(tmp_path / "var")}
    assert runner.build_plan(base).env["DJANGO_DEBUG"] == "0"
    assert runner.build_plan({**base, "DJANGO_DEBUG": "1"}).env["DJANGO_DEBUG"] == "1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_under_make_runs_environment_an_unknown_address_is_the_sites_own_404_page(
    transactional_db, fast_pipeline, tmp_path
):
    """The web server as `make run` plans it (development, nothing about debug configured):
    the site's 404 page, styled, with its stylesheet served from the source folder."""
    environ = {
        key: value for key, value in os.environ.items() if key not in {"DJANGO_DEBUG", "DJANGO_ENV"}
    }
    plan = runner.build_plan(
        {
            **environ,
            **FAST_PIPELINE_ENV,
            "DRISHTIKSHA_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": _test_database_url(),
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": fast_pipeline.REDIS_URL,
            "ML_SERVER_URL": "http://127.0.0.1:9",
            "ML_SERVER_API_KEY": "k",
        }
    )
    with uvicorn_serving(env=plan.env, port=_free_port()) as url:
        answer = requests.get(f"{url}/no-such-page/", timeout=10)
        assert answer.status_code == 404
        assert "There is nothing at this address" in answer.text
        assert "Using the URLconf" not in answer.text
        stylesheet = requests.get(f"{url}/static/css/app.css", timeout=10)
        assert stylesheet.status_code == 200
        assert "--bg" in stylesheet.text
