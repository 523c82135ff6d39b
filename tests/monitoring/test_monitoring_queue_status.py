"""GET queue-status over the real Redis broker: without a worker, and with one at work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from drishtiksha.celery import app as celery_app
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from tests.factories import DeepfakeAnalysisFactory
from tests.fixtures.pipeline import _purge_pipeline_queues, stored_media, wait_for

URL = "/api/v1/monitoring/queue-status"
INSPECT_TIMEOUT_SECONDS = 0.3
# Long enough to ask the workers while the analyses run; under the fast pipeline's read timeout.
ANALYSIS_SECONDS = 1.5


@pytest.fixture
def quick_inspect(settings):
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = INSPECT_TIMEOUT_SECONDS


@pytest.fixture
def empty_queues():
    _purge_pipeline_queues()
    yield
    _purge_pipeline_queues()


def _finished(status: str, *, hours_ago: float) -> DeepfakeAnalysis:
    analysis = DeepfakeAnalysisFactory(status=status)
    DeepfakeAnalysis.objects.filter(pk=analysis.pk).update(
        finished_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return analysis


@pytest.mark.django_db
def test_without_a_worker_pending_jobs_come_from_the_broker_and_workers_online_is_0(
    staff_api, quick_inspect, empty_queues
):
    for _ in range(2):
        celery_app.send_task("media_analysis.analysis_execute", kwargs={"analysis_id": "x"})
    celery_app.send_task("monitoring.server_health_check")
    _finished(AnalysisStatus.COMPLETED, hours_ago=1)
    _finished(AnalysisStatus.COMPLETED, hours_ago=23)
    _finished(AnalysisStatus.COMPLETED, hours_ago=25)
    _finished(AnalysisStatus.FAILED, hours_ago=2)
    _finished(AnalysisStatus.FAILED, hours_ago=48)

    response = staff_api.get(URL)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["pendingJobs"] == 3
    assert (data["activeJobs"], data["delayedJobs"]) == (0, 0)
    assert (data["workersOnline"], data["workers"]) == (0, [])
    assert (data["completedJobs"], data["failedJobs"], data["windowHours"]) == (2, 1, 24)
    assert data["queues"] == [
        {"name": "analysis", "pendingJobs": 2, "activeJobs": 0, "delayedJobs": 0},
        {"name": "housekeeping", "pendingJobs": 1, "activeJobs": 0, "delayedJobs": 0},
    ]


@pytest.mark.django_db
def test_an_unreachable_broker_is_503(staff_api, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = staff_api.get(URL)

    assert response.status_code == 503
    assert response.json()["message"] == "The message broker cannot be reached."


@pytest.mark.django_db(transaction=True)
def test_with_a_worker_running_an_analysis_it_is_active(
    staff_api, fake_inference, pipeline_worker, quick_inspect
):
    for model in fake_inference.models:
        model.delay = ANALYSIS_SECONDS
    run = run_start(media=stored_media())
    wait_for(
        lambda: (
            DeepfakeAnalysis.objects.filter(run=run, status=AnalysisStatus.PROCESSING).count()
            == len(fake_inference.models)
        )
    )

    data = staff_api.get(URL).json()["data"]

    assert data["workersOnline"] == 1
    assert data["workers"] == [pipeline_worker.hostname]
    assert data["activeJobs"] == len(fake_inference.models)
    analysis_queue = next(queue for queue in data["queues"] if queue["name"] == "analysis")
    assert analysis_queue["activeJobs"] == len(fake_inference.models)
    assert data["pendingJobs"] == 0
    wait_for(lambda: AnalysisRun.objects.get(pk=run.pk).status == RunStatus.ANALYZED)
    # The finalizer commits the verdict a moment before its task returns, so poll: once the run
    # is settled the worker must soon report nothing running.
    wait_for(lambda: staff_api.get(URL).json()["data"]["activeJobs"] == 0, timeout=10)
