"""GET analytics: every figure below was worked out by hand from the rows the fixture makes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from monitoring.analytics import analytics_get, percentile_cont
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, MediaFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

URL = "/api/v1/monitoring/analytics"
DAYS = 7
C, F, P = AnalysisStatus.COMPLETED, AnalysisStatus.FAILED, AnalysisStatus.PENDING


def _age(model, pk, days: float) -> None:
    model.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(days=days))


def _runs(media: Media, count: int, *, verdict: str | None = None) -> list[AnalysisRun]:
    """`count` runs of `media`; the last is its latest run, with `verdict`."""
    runs = [
        AnalysisRunFactory(media=media, run_number=number, status=RunStatus.ANALYZED)
        for number in range(1, count + 1)
    ]
    AnalysisRun.objects.filter(pk=runs[-1].pk).update(verdict=verdict)
    Media.objects.filter(pk=media.pk).update(latest_run=runs[-1])
    return runs


def _analysis(run, model, status, seconds=None, confidence=None, media_type=None):
    return DeepfakeAnalysisFactory(
        run=run,
        model_name=model,
        status=status,
        processing_time=seconds,
        confidence=confidence,
        media_type=media_type,
    )


@pytest.fixture
def rows(settings) -> dict[str, Media]:
    settings.MONITORING_ANALYTICS_TOP_COUNT = 3
    video = MediaFactory(original_filename="video.mp4")
    audio = MediaFactory(original_filename="audio.wav", media_type=MediaType.AUDIO)
    image = MediaFactory(original_filename="image.png", media_type=MediaType.IMAGE)
    unsure = MediaFactory(original_filename="unsure.mp4")
    old = MediaFactory(original_filename="old.mp4")
    _age(Media, image.pk, 2)
    _age(Media, old.pk, 10)

    # ALPHA, all on video: completed in 1, 2, 3, 4 and 10 s, one failure, one pending.
    alpha_runs = _runs(video, 7, verdict=Verdict.FAKE)
    for run, seconds, confidence in zip(
        alpha_runs, [1.0, 2.0, 3.0, 4.0, 10.0], [0.9, 0.8, 0.7, 0.6, 0.5], strict=False
    ):
        _analysis(run, "ALPHA", C, seconds, confidence, MediaType.VIDEO)
    _analysis(alpha_runs[5], "ALPHA", F)
    _analysis(alpha_runs[6], "ALPHA", P)

    # BETA: audio in 6 s (0.4) and 8 s (0.6), image in 0.5 s (1.0), two failures.
    beta_runs = _runs(audio, 4, verdict=Verdict.REAL)
    _analysis(beta_runs[0], "BETA", C, 6.0, 0.4, MediaType.AUDIO)
    _analysis(beta_runs[1], "BETA", C, 8.0, 0.6, MediaType.AUDIO)
    _analysis(beta_runs[2], "BETA", F)
    _analysis(beta_runs[3], "BETA", F)
    (image_run,) = _runs(image, 1)
    AnalysisRun.objects.filter(pk=image_run.pk).update(status=RunStatus.PROCESSING)
    _analysis(image_run, "BETA", C, 0.5, 1.0, MediaType.IMAGE)

    _runs(unsure, 1, verdict=Verdict.INCONCLUSIVE)

    # Outside the window: an analysis of ten days ago, on media of ten days ago.
    (old_run,) = _runs(old, 1, verdict=Verdict.FAKE)
    _age(AnalysisRun, old_run.pk, 10)
    stale = _analysis(old_run, "ALPHA", C, 100.0, 0.1, MediaType.VIDEO)
    _age(DeepfakeAnalysis, stale.pk, 10)
    return {"video": video, "audio": audio, "image": image}


EXPECTED_MODELS = [
    {
        "modelName": "ALPHA",
        "count": 7,
        "completed": 5,
        "failed": 1,
        "failureRate": pytest.approx(1 / 6),
        "processingTimeAvg": pytest.approx(4.0),  # (1 + 2 + 3 + 4 + 10) / 5
        "processingTimeMin": 1.0,
        "processingTimeMax": 10.0,
        # rank 0.95 * (5 - 1) = 3.8 -> 4 + 0.8 * (10 - 4)
        "processingTimeP95": pytest.approx(8.8),
        "confidenceByMediaType": {"VIDEO": pytest.approx(0.7)},
    },
    {
        "modelName": "BETA",
        "count": 5,
        "completed": 3,
        "failed": 2,
        "failureRate": pytest.approx(0.4),
        "processingTimeAvg": pytest.approx(14.5 / 3),
        "processingTimeMin": 0.5,
        "processingTimeMax": 8.0,
        # sorted 0.5, 6, 8; rank 0.95 * 2 = 1.9 -> 6 + 0.9 * (8 - 6)
        "processingTimeP95": pytest.approx(7.8),
        "confidenceByMediaType": {"AUDIO": pytest.approx(0.5), "IMAGE": pytest.approx(1.0)},
    },
]


def test_per_model_figures(staff_api, rows):
    response = staff_api.get(URL, {"days": DAYS})

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["days"] == DAYS
    assert data["models"] == EXPECTED_MODELS


def test_slowest_and_fastest_completed_analyses(staff_api, rows):
    data = staff_api.get(URL, {"days": DAYS}).json()["data"]

    assert [(t["processingTime"], t["modelName"], t["mediaFilename"]) for t in data["slowest"]] == [
        (10.0, "ALPHA", "video.mp4"),
        (8.0, "BETA", "audio.wav"),
        (6.0, "BETA", "audio.wav"),
    ]
    assert [(t["processingTime"], t["modelName"], t["mediaFilename"]) for t in data["fastest"]] == [
        (0.5, "BETA", "image.png"),
        (1.0, "ALPHA", "video.mp4"),
        (2.0, "ALPHA", "video.mp4"),
    ]
    assert data["fastest"][0]["mediaId"] == str(rows["image"].pk)
    assert data["fastest"][0]["mediaType"] == "IMAGE"


def test_uploads_per_day_cover_every_day_of_the_window(staff_api, rows):
    data = staff_api.get(URL, {"days": DAYS}).json()["data"]

    today = timezone.localdate()
    expected_days = [
        (today - timedelta(days=DAYS - 1 - offset)).isoformat() for offset in range(DAYS)
    ]
    assert [day["day"] for day in data["uploadsPerDay"]] == expected_days
    # video, audio and unsure today; image two days ago; old.mp4 (ten days ago) is outside.
    assert [day["count"] for day in data["uploadsPerDay"]] == [0, 0, 0, 0, 1, 0, 3]


def test_verdict_distribution_of_latest_runs(staff_api, rows):
    data = staff_api.get(URL, {"days": DAYS}).json()["data"]

    assert data["verdicts"] == [
        {"verdict": "FAKE", "label": "Likely deepfake", "count": 1},
        {"verdict": "REAL", "label": "Likely authentic", "count": 1},
        {"verdict": "INCONCLUSIVE", "label": "Inconclusive", "count": 1},
        {"verdict": None, "label": "No verdict yet", "count": 1},
    ]


def test_a_wider_window_takes_the_old_rows_in(staff_api, rows):
    data = staff_api.get(URL, {"days": 30}).json()["data"]

    alpha = data["models"][0]
    assert (alpha["count"], alpha["processingTimeMax"]) == (8, 100.0)
    assert data["slowest"][0]["mediaFilename"] == "old.mp4"
    assert sum(day["count"] for day in data["uploadsPerDay"]) == 5


def test_a_constant_number_of_queries(rows, django_assert_num_queries):
    with django_assert_num_queries(6):
        analytics_get(days=DAYS)


def test_without_postgresql_the_p95_is_computed_in_python_to_the_same_numbers(
    rows, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(connection, "vendor", "sqlite")

    with django_assert_num_queries(7):
        analytics = analytics_get(days=DAYS)

    assert [model.processing_time_p95 for model in analytics.models] == [
        pytest.approx(8.8),
        pytest.approx(7.8),
    ]


def test_percentile_cont_interpolates_like_postgresql():
    assert percentile_cont([], 0.95) is None
    assert percentile_cont([3.0], 0.95) == 3.0
    assert percentile_cont([10.0, 0.0], 0.5) == 5.0
    assert percentile_cont([4.0, 1.0, 10.0, 3.0, 2.0], 0.95) == pytest.approx(8.8)


@pytest.mark.parametrize("days", ["0", "366", "week"])
def test_days_outside_1_to_365_are_refused(staff_api, days):
    response = staff_api.get(URL, {"days": days})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "days"


def test_no_data_gives_empty_figures_not_errors(staff_api):
    data = staff_api.get(URL).json()["data"]

    assert data["days"] == 30
    assert (data["models"], data["slowest"], data["fastest"]) == ([], [], [])
    assert len(data["uploadsPerDay"]) == 30
    assert {verdict["count"] for verdict in data["verdicts"]} == {0}
