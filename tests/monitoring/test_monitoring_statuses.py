"""verify-statuses finds runs and media whose status disagrees with their analyses; fix-statuses
repairs them through the run services; check-stuck-runs runs the reaper now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, Prediction, RunStatus, Verdict
from media_analysis.models import AnalysisRun, Media
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, MediaFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

VERIFY_URL = "/api/v1/monitoring/verify-statuses"
FIX_URL = "/api/v1/monitoring/fix-statuses"
REAP_URL = "/api/v1/monitoring/check-stuck-runs"
FINISHED_AT = timezone.now() - timedelta(days=2)


def run_with(
    run_status: str, analyses: list[str], *, media_status: str | None = None
) -> AnalysisRun:
    """A run (the latest of its media) with one analysis per status given; completed analyses
    say FAKE with confidence 0.9. The media mirrors the run unless `media_status` says otherwise."""
    media = MediaFactory(status=media_status or run_status)
    run = AnalysisRunFactory(
        media=media,
        run_number=1,
        status=run_status,
        finished_at=FINISHED_AT if run_status in RunStatus.final() else None,
    )
    for status in analyses:
        completed = status == AnalysisStatus.COMPLETED
        DeepfakeAnalysisFactory(
            run=run,
            status=status,
            prediction=Prediction.FAKE if completed else None,
            confidence=0.9 if completed else None,
        )
    Media.objects.filter(pk=media.pk).update(latest_run=run)
    return run


C, F, P = AnalysisStatus.COMPLETED, AnalysisStatus.FAILED, AnalysisStatus.PENDING


@pytest.fixture
def inconsistent() -> dict[str, AnalysisRun]:
    return {
        "final_with_open": run_with(RunStatus.ANALYZED, [C, P]),
        "open_all_final": run_with(RunStatus.PROCESSING, [C, F]),
        "wrong_mix": run_with(RunStatus.ANALYZED, [C, F]),
        "media_differs": run_with(RunStatus.FAILED, [F, F], media_status=RunStatus.ANALYZED),
    }


@pytest.fixture
def consistent() -> list[AnalysisRun]:
    return [
        run_with(RunStatus.ANALYZED, [C, C]),
        run_with(RunStatus.PARTIALLY_ANALYZED, [C, F]),
        run_with(RunStatus.PROCESSING, [C, P]),
        run_with(RunStatus.QUEUED, []),
        # Closed without analyses: no model could analyse the media.
        run_with(RunStatus.FAILED, []),
    ]


def test_verify_lists_each_kind_of_inconsistency(staff_api, inconsistent, consistent):
    response = staff_api.get(VERIFY_URL)

    assert response.status_code == 200
    data = response.json()["data"]
    found = {
        (item["kind"], item["runId"], item["storedStatus"], item["expectedStatus"])
        for item in data["inconsistencies"]
    }
    assert found == {
        (
            "RUN_FINAL_WITH_OPEN_ANALYSES",
            str(inconsistent["final_with_open"].pk),
            "ANALYZED",
            "PROCESSING",
        ),
        (
            "RUN_OPEN_WITH_FINAL_ANALYSES",
            str(inconsistent["open_all_final"].pk),
            "PROCESSING",
            "PARTIALLY_ANALYZED",
        ),
        (
            "RUN_STATUS_MISMATCH",
            str(inconsistent["wrong_mix"].pk),
            "ANALYZED",
            "PARTIALLY_ANALYZED",
        ),
        ("MEDIA_STATUS_MISMATCH", str(inconsistent["media_differs"].pk), "ANALYZED", "FAILED"),
    }
    assert data["count"] == 4
    media_item = next(i for i in data["inconsistencies"] if i["kind"] == "MEDIA_STATUS_MISMATCH")
    assert media_item["mediaId"] == str(inconsistent["media_differs"].media_id)
    assert media_item["mediaFilename"] == inconsistent["media_differs"].media.original_filename
    assert media_item["description"].startswith("The media's status differs")


def test_verify_costs_two_queries_however_many_rows(
    staff_api, inconsistent, consistent, django_assert_num_queries
):
    from monitoring.consistency import status_inconsistencies_list

    with django_assert_num_queries(2):
        assert len(status_inconsistencies_list()) == 4


def test_fix_repairs_every_inconsistency_through_the_run_services(
    staff_api, inconsistent, consistent
):
    response = staff_api.post(FIX_URL)

    assert response.status_code == 200
    data = response.json()["data"]
    changes = {(c["kind"], c["runId"], c["before"], c["after"]) for c in data["changes"]}
    assert changes == {
        (
            "RUN_FINAL_WITH_OPEN_ANALYSES",
            str(inconsistent["final_with_open"].pk),
            "ANALYZED",
            "PROCESSING",
        ),
        (
            "RUN_OPEN_WITH_FINAL_ANALYSES",
            str(inconsistent["open_all_final"].pk),
            "PROCESSING",
            "PARTIALLY_ANALYZED",
        ),
        (
            "RUN_STATUS_MISMATCH",
            str(inconsistent["wrong_mix"].pk),
            "ANALYZED",
            "PARTIALLY_ANALYZED",
        ),
        ("MEDIA_STATUS_MISMATCH", str(inconsistent["media_differs"].pk), "ANALYZED", "FAILED"),
    }
    assert response.json()["message"] == "4 status(es) fixed"

    reopened = AnalysisRun.objects.get(pk=inconsistent["final_with_open"].pk)
    assert (reopened.status, reopened.media.status) == (RunStatus.PROCESSING, RunStatus.PROCESSING)
    assert reopened.finished_at is None

    finalized = AnalysisRun.objects.get(pk=inconsistent["open_all_final"].pk)
    assert finalized.media.status == RunStatus.PARTIALLY_ANALYZED
    # One model completed (FAKE at 0.9): the verdict is computed by run_finalize.
    assert (finalized.verdict, finalized.fake_score, finalized.agreement) == (
        Verdict.FAKE,
        0.9,
        1.0,
    )
    assert finalized.error_message.startswith("1 of 2 models failed.")

    recomputed = AnalysisRun.objects.get(pk=inconsistent["wrong_mix"].pk)
    assert (recomputed.status, recomputed.verdict) == (RunStatus.PARTIALLY_ANALYZED, Verdict.FAKE)
    assert recomputed.finished_at == FINISHED_AT
    assert recomputed.media.status == RunStatus.PARTIALLY_ANALYZED

    assert Media.objects.get(pk=inconsistent["media_differs"].media_id).status == RunStatus.FAILED

    # Only the reopened run (its analyses are still open) is left for the pipeline.
    remaining = staff_api.get(VERIFY_URL).json()["data"]
    assert remaining["count"] == 0


def test_fix_with_nothing_to_fix_changes_nothing(staff_api, consistent):
    before = list(AnalysisRun.objects.order_by("pk").values_list("status", "updated_at"))

    data = staff_api.post(FIX_URL).json()["data"]

    assert data == {"count": 0, "changes": []}
    assert list(AnalysisRun.objects.order_by("pk").values_list("status", "updated_at")) == before


def test_check_stuck_runs_runs_the_reaper_and_reports_its_counts(staff_api):
    settled_late = run_with(RunStatus.PROCESSING, [C, C])

    response = staff_api.post(REAP_URL)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "redispatched": 0,
        "timedOut": 0,
        "finalizedRuns": 1,
        "dispatchResent": 0,
        "ids": {
            "redispatched": [],
            "timedOut": [],
            "finalizedRuns": [str(settled_late.pk)],
            "dispatchResent": [],
        },
    }
    assert AnalysisRun.objects.get(pk=settled_late.pk).status == RunStatus.ANALYZED
