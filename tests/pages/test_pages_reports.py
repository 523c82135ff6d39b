"""The run page and the model report page: chart data prepared on the server, robust payloads."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from media_analysis.choices import AnalysisStatus, MediaType, Prediction
from media_analysis.discovery import stats_cache_key
from media_analysis.pipeline.dispatch import run_dispatch
from media_analysis.pipeline.start import run_start
from tests.factories import (
    DeepfakeAnalysisFactory,
    UserFactory,
    audio_result_payload,
    image_result_payload,
    video_result_payload,
)
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import finished_run, json_script

pytestmark = pytest.mark.django_db


def three_models(video):
    return finished_run(
        video,
        models=(
            ("SIGLIP-LSTM-V4", Prediction.FAKE, 0.9),
            ("COLOR-CUES-LSTM-V1", Prediction.REAL, 0.6),
        ),
        failed=("EYEBLINK-CNN-LSTM-V1",),
    )


def test_run_page_summarises_the_verdict_and_lists_models(browser, video, inference_down):
    run = three_models(video)

    html = browser.get(f"/runs/{run.pk}/").content.decode()

    assert "Likely deepfake" in html
    assert "<dt>Fake score</dt><dd>72.0 %</dd>" in html
    assert "<dt>Agreement</dt><dd>50.0 %</dd>" in html
    assert "<dt>Completed</dt><dd>2 of 3</dd>" in html
    assert "<dt>Failed</dt><dd>1</dd>" in html
    assert "EYEBLINK-CNN-LSTM-V1</strong>: Media could not be processed." in html
    assert f'href="/api/v1/pdf/report/run/{run.pk}"' in html
    for analysis in run.analyses.all():
        assert f'href="/analyses/{analysis.pk}/"' in html


def test_run_chart_data_puts_every_video_model_on_one_timeline(browser, video, inference_down):
    run = three_models(video)

    charts = json_script(browser.get(f"/runs/{run.pk}/").content.decode(), "run-chart-data")

    assert [series["model"] for series in charts["timeline"]] == [
        "COLOR-CUES-LSTM-V1",
        "SIGLIP-LSTM-V4",
    ]
    for series in charts["timeline"]:
        xs = [point["x"] for point in series["points"]]
        assert xs[0] == 0 and xs[-1] == 100 and xs == sorted(xs)
        assert all(0 <= point["y"] <= 100 for point in series["points"])
    assert charts["confidence"] == [
        {"model": "COLOR-CUES-LSTM-V1", "prediction": "REAL", "confidence": 60.0},
        {"model": "SIGLIP-LSTM-V4", "prediction": "FAKE", "confidence": 90.0},
    ]
    assert {entry["model"] for entry in charts["processingTime"]} == {
        "COLOR-CUES-LSTM-V1",
        "SIGLIP-LSTM-V4",
    }


def test_long_frame_series_are_downsampled_for_the_page(browser, video, settings, inference_down):
    settings.PAGE_CHART_MAX_POINTS = 300
    run = finished_run(
        video, payload=lambda **options: video_result_payload(frames=5000, **options)
    )
    analysis = run.analyses.get()

    run_charts = json_script(browser.get(f"/runs/{run.pk}/").content.decode(), "run-chart-data")
    model_charts = json_script(
        browser.get(f"/analyses/{analysis.pk}/").content.decode(), "analysis-chart-data"
    )

    assert 0 < len(run_charts["timeline"][0]["points"]) <= 300
    video_data = model_charts["video"]
    assert 0 < len(video_data["frames"]) <= 300
    assert 0 < len(video_data["rollingMean"]) <= 300
    assert len(video_data["heatStrip"]) == 300
    assert video_data["count"] == 5000
    assert sum(video_data["histogram"]["counts"]) == 5000
    # Extremes survive downsampling: the series still reaches its highest score.
    assert max(point["y"] for point in video_data["frames"]) == pytest.approx(95.0, abs=0.1)


def test_video_model_page_shows_charts_metrics_environment_and_raw_result(
    browser, video, fake_inference
):
    run = finished_run(video)
    analysis = run.analyses.get()

    html = browser.get(f"/analyses/{analysis.pk}/").content.decode()

    charts = json_script(html, "analysis-chart-data")
    assert charts["kind"] == "VIDEO"
    assert charts["video"]["histogram"]["labels"][0] == "0–10 %"
    for canvas in ("frames-chart", "heat-strip", "histogram-chart"):
        assert f'id="{canvas}"' in html
    # Payload keys are shown as words, never raw.
    assert "<dt>Average fake score</dt>" in html and "<dt>final_average_score</dt>" not in html
    assert "<dt>Model that answered</dt><dd>SIGLIP-LSTM-V4</dd>" in html
    assert "<dt>Detector</dt><dd>Fake SIGLIP-LSTM-V4</dd>" in html
    assert "&quot;frame_predictions&quot;: [" in html


STORED_DESCRIPTION = (
    "Heuristic baseline, not a trained deepfake model. Measures frame-to-frame residuals; "
    "more flicker maps to a higher fake probability. Fails on fast camera motion."
)


def test_model_page_shows_the_description_stored_with_the_run_while_the_server_is_down(
    browser, video, inference_down
):
    run = finished_run(video)
    analysis = run.analyses.get()
    analysis.model_description = STORED_DESCRIPTION
    analysis.save(update_fields=["model_description"])

    html = browser.get(f"/analyses/{analysis.pk}/").content.decode()

    assert f"<dt>Detector</dt><dd>{STORED_DESCRIPTION}</dd>" in html


def test_after_a_fallback_the_page_describes_the_model_that_answered(
    browser, video, fake_inference_factory
):
    fake_inference_factory(
        [
            FakeModel("SIGLIP-LSTM-V4", video=True, description=STORED_DESCRIPTION),
            FakeModel("FALLBACK-V1", video=True, description="The fallback detector."),
        ]
    )
    run = finished_run(video)
    analysis = run.analyses.get()
    analysis.model_description = STORED_DESCRIPTION
    analysis.model_used = "FALLBACK-V1"
    analysis.save(update_fields=["model_description", "model_used"])

    html = browser.get(f"/analyses/{analysis.pk}/").content.decode()

    assert "<dt>Detector</dt><dd>The fallback detector.</dd>" in html
    assert STORED_DESCRIPTION not in html


def test_a_run_dispatched_late_keeps_the_descriptions_the_server_gave(
    browser, owner, settings, fake_inference_factory
):
    media = stored_media(owner=owner, media_type=MediaType.VIDEO, has_audio=False)
    settings.ML_SERVER_URL = "http://127.0.0.1:9"  # down when the upload starts its run
    run = run_start(media=media)
    assert not run.analyses.exists()
    server = fake_inference_factory(
        [FakeModel("TEMPORAL-V1", video=True, description=STORED_DESCRIPTION)]
    )

    run_dispatch(run_id=run.pk)
    # Gone, and forgotten by the model-list cache: only the stored text is left.
    server.stop()
    cache.delete(stats_cache_key())

    analysis = run.analyses.get()
    assert analysis.model_description == STORED_DESCRIPTION
    html = browser.get(f"/analyses/{analysis.pk}/").content.decode()
    assert f"<dt>Detector</dt><dd>{STORED_DESCRIPTION}</dd>" in html


def test_audio_model_page_shows_figures_and_a_spectrogram(browser, owner, inference_down):
    media = stored_media(owner=owner, media_type=MediaType.AUDIO, extension="wav")
    run = finished_run(media, payload=audio_result_payload)
    analysis = run.analyses.get()

    html = browser.get(f"/analyses/{analysis.pk}/").content.decode()

    charts = json_script(html, "analysis-chart-data")
    spectrogram = charts["spectrogram"]
    assert spectrogram["kind"] == "matrix"
    assert spectrogram["sourceShape"] == [256, 60]
    assert len(spectrogram["rows"]) == 128 and len(spectrogram["rows"][0]) == 60
    assert "<dt>Mean pitch (Hz)</dt>" in html and "<dt>Share of silence</dt>" in html
    assert 'id="spectrogram"' in html


@pytest.mark.parametrize(
    ("visualization", "expected"),
    [
        ({"spectrogram_data": [0.2, "x", 0.9, None]}, {"kind": "series", "values": [0.2, 0.9]}),
        (None, None),
        ({"spectrogram_data": None}, None),
        ({"spectrogram_data": [[]]}, None),
    ],
)
def test_audio_spectrogram_variants_never_break_the_page(
    browser, owner, inference_down, visualization, expected
):
    media = stored_media(owner=owner, media_type=MediaType.AUDIO, extension="wav")

    def payload(**options):
        return {**audio_result_payload(**options), "visualization": visualization}

    analysis = finished_run(media, payload=payload).analyses.get()

    response = browser.get(f"/analyses/{analysis.pk}/")

    assert response.status_code == 200
    assert json_script(response.content.decode(), "analysis-chart-data")["spectrogram"] == expected


def test_image_model_page_overlays_a_reduced_heatmap(browser, owner, settings, inference_down):
    settings.PAGE_HEATMAP_MAX_CELLS = 16
    media = stored_media(owner=owner, media_type=MediaType.IMAGE, extension="png")
    analysis = finished_run(
        media, payload=lambda **options: image_result_payload(size=64, **options)
    ).analyses.get()

    html = browser.get(f"/analyses/{analysis.pk}/").content.decode()

    heatmap = json_script(html, "analysis-chart-data")["heatmap"]
    assert len(heatmap["rows"]) == 16 and {len(row) for row in heatmap["rows"]} == {16}
    assert 0 <= heatmap["min"] <= heatmap["max"] <= 1
    assert f'<img id="heatmap-image" src="/api/v1/media/{media.pk}/file"' in html
    assert 'id="heatmap-canvas"' in html and 'id="heatmap-opacity"' in html


def test_a_failed_model_page_shows_the_reason_and_correlation_id(browser, video, inference_down):
    run = three_models(video)
    failed = run.analyses.get(status=AnalysisStatus.FAILED)

    html = browser.get(f"/analyses/{failed.pk}/").content.decode()

    assert "This model failed" in html and "after 2 attempts" in html
    assert "no face found" in html
    assert '<dt>Correlation id</dt><dd class="mono">corr-1234</dd>' in html
    assert "No result was stored: this model failed." in html


@pytest.mark.parametrize(
    "payload",
    [
        {"media_type": "video", "frame_predictions": "nonsense", "metrics": [1, 2]},
        {"media_type": "video", "frame_predictions": [{"score": "high"}, {"index": 3}, None]},
        {"media_type": "video", "frame_predictions": [{"index": 0, "score": 7.5}], "note": 3},
        {"media_type": "image", "heatmap_scores": [[None, "x"], []]},
        {"media_type": "audio", "energy": {"silence_ratio": -0.4}, "pitch": "n/a"},
        {"media_type": "hologram", "metrics": {"deep": {"er": {"still": {"more": {"x": 1}}}}}},
        [],
    ],
)
def test_odd_payloads_render_instead_of_crashing(browser, video, inference_down, payload):
    run = finished_run(video)
    analysis = run.analyses.get()
    analysis.result_payload = payload
    analysis.confidence = None
    analysis.save(update_fields=["result_payload", "confidence"])

    model_page = browser.get(f"/analyses/{analysis.pk}/")
    run_page = browser.get(f"/runs/{run.pk}/")

    assert model_page.status_code == 200
    assert run_page.status_code == 200
    charts = json_script(run_page.content.decode(), "run-chart-data")
    assert all(0 <= p["y"] <= 100 for s in charts["timeline"] for p in s["points"])


def test_someone_elses_run_and_model_report_are_not_found(browser, inference_down):
    foreign = finished_run(stored_media(owner=UserFactory()))
    analysis = foreign.analyses.get()
    orphan = DeepfakeAnalysisFactory()

    assert browser.get(f"/runs/{foreign.pk}/").status_code == 404
    assert browser.get(f"/analyses/{analysis.pk}/").status_code == 404
    assert browser.get(f"/analyses/{orphan.pk}/").status_code == 404


NO_METADATA = "no provenance metadata found; its absence says nothing"


def with_an_abstention(video):
    run = finished_run(video, models=(("SIGLIP-LSTM-V4", Prediction.FAKE, 0.9),))
    abstained = DeepfakeAnalysisFactory(
        run=run,
        model_name="PROVENANCE-METADATA-V1",
        status=AnalysisStatus.ABSTAINED,
        abstain_reason=NO_METADATA,
        prediction=None,
        confidence=None,
        processing_time=0.2,
        result_payload={"abstained": True, "reason": NO_METADATA, "media_type": "video"},
        attempts=1,
    )
    return run, abstained


def test_run_media_and_model_pages_show_no_evidence_with_its_reason(browser, video, inference_down):
    run, abstained = with_an_abstention(video)

    run_page = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "<dt>No evidence</dt><dd>1</dd>" in run_page
    assert "<dt>Failed</dt><dd>0</dd>" in run_page
    assert f"<strong>PROVENANCE-METADATA-V1</strong>: {NO_METADATA}" in run_page
    assert 'data-status="ABSTAINED">No evidence</span>' in run_page
    charts = json_script(run_page, "run-chart-data")
    assert [c["model"] for c in charts["confidence"]] == ["SIGLIP-LSTM-V4"]
    timing = {t["model"]: t["failed"] for t in charts["processingTime"]}
    assert timing["PROVENANCE-METADATA-V1"] is False

    media_page = browser.get(f"/media/{video.pk}/").content.decode()
    assert 'data-status="ABSTAINED">No evidence</span>' in media_page
    assert NO_METADATA in media_page and "not counted in the verdict" in media_page

    model_page = browser.get(f"/analyses/{abstained.pk}/").content.decode()
    assert f"<strong>No evidence:</strong> {NO_METADATA}" in model_page
    assert "This model failed" not in model_page
