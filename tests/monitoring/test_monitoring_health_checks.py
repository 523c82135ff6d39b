"""Health history: the beat task records what the inference server answered, and prunes old rows.

Every case runs against the fake inference server over real HTTP.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from drishtiksha.celery import app as celery_app
from monitoring.health import server_health_check, server_health_prune
from monitoring.models import HealthStatus, ServerHealth
from monitoring.tasks import server_health_check_task
from tests.fakes.inference_server import Failure

pytestmark = pytest.mark.django_db

# The client gives up on /stats after this long; the fake sleeps longer than that.
STATS_TIMEOUT_SECONDS = 0.3


@pytest.fixture
def short_stats_timeout(settings):
    settings.ML_STATS_READ_TIMEOUT_SECONDS = STATS_TIMEOUT_SECONDS


def test_a_healthy_server_is_recorded_with_its_payload_and_response_time(fake_inference):
    outcome = server_health_check_task()

    health = ServerHealth.objects.get()
    assert health.status == HealthStatus.HEALTHY
    assert health.error_message == ""
    assert health.stats_payload["models_info"][0]["name"] == "SIGLIP-LSTM-V4"
    assert health.stats_payload["system_info"]["ram_usage_percent"] == 12.5
    assert 0 <= health.response_time_ms < 5000
    assert outcome == {
        "status": HealthStatus.HEALTHY,
        "responseTimeMs": health.response_time_ms,
        "pruned": 0,
    }


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("ok", HealthStatus.HEALTHY),
        ("Healthy", HealthStatus.HEALTHY),
        ("degraded", HealthStatus.DEGRADED),
        ("starting", HealthStatus.UNKNOWN),
    ],
)
def test_the_status_the_server_reports_is_mapped(fake_inference, reported, expected):
    fake_inference.stats_status = reported

    assert server_health_check().status == expected


def test_a_500_is_unhealthy_with_the_error_message(fake_inference):
    fake_inference.stats_failure = Failure.ERROR_500

    health = server_health_check()

    assert health.status == HealthStatus.UNHEALTHY
    assert health.error_message == "HTTP 500: stats broke"
    assert health.stats_payload is None


def test_a_503_or_a_body_that_is_not_json_is_unhealthy(fake_inference):
    fake_inference.stats_failure = Failure.ERROR_503
    unavailable = server_health_check()
    fake_inference.stats_failure = Failure.GARBAGE
    garbage = server_health_check()

    assert (unavailable.status, unavailable.error_message) == (
        HealthStatus.UNHEALTHY,
        "HTTP 503: ModelManager is not available.",
    )
    assert (garbage.status, garbage.error_message) == (
        HealthStatus.UNHEALTHY,
        "HTTP 200: The inference server sent an answer that is not valid JSON.",
    )


def test_a_refused_connection_is_unhealthy(fake_inference):
    fake_inference.stop()

    health = server_health_check()

    assert health.status == HealthStatus.UNHEALTHY
    assert health.error_message == "The inference server could not be reached."
    assert health.response_time_ms is not None


def test_a_timeout_is_unhealthy_and_takes_the_timeout(fake_inference, short_stats_timeout):
    fake_inference.stats_failure = Failure.TIMEOUT
    fake_inference.timeout_sleep = 2.0

    health = server_health_check()

    assert health.status == HealthStatus.UNHEALTHY
    assert "did not answer within 0.3 seconds" in health.error_message
    assert health.response_time_ms >= STATS_TIMEOUT_SECONDS * 1000


def test_a_wrong_api_key_is_unhealthy(fake_inference, settings):
    settings.ML_SERVER_API_KEY = "not-the-key"

    health = server_health_check()

    assert health.status == HealthStatus.UNHEALTHY
    assert health.error_message == "HTTP 401: Invalid or missing API Key"


def test_an_answer_that_is_not_a_stats_answer_is_unhealthy(fake_inference, settings):
    settings.ML_SERVER_URL = f"{fake_inference.url}/nowhere"  # 404 from the fake

    health = server_health_check()

    assert health.status == HealthStatus.UNHEALTHY
    assert health.error_message.startswith("HTTP 404")


def test_a_reachable_server_reporting_an_unrecognised_status_is_unknown(fake_inference):
    fake_inference.stats_status = "warming up"

    health = server_health_check()

    assert health.status == HealthStatus.UNKNOWN
    assert health.error_message == ""
    assert health.stats_payload["status"] == "warming up"


def test_rows_older_than_the_retention_are_pruned(settings):
    settings.HEALTH_RETENTION_DAYS = 7
    now = timezone.now()
    ages = {
        "fresh": timedelta(days=1),
        "edge": timedelta(days=6, hours=23),
        "old": timedelta(days=8),
    }
    rows = {}
    for name, age in ages.items():
        rows[name] = ServerHealth.objects.create(status=HealthStatus.HEALTHY)
        ServerHealth.objects.filter(pk=rows[name].pk).update(checked_at=now - age)

    assert server_health_prune(now=now) == 1

    remaining = set(ServerHealth.objects.values_list("pk", flat=True))
    assert remaining == {rows["fresh"].pk, rows["edge"].pk}


def test_the_task_prunes_after_checking(fake_inference, settings):
    old = ServerHealth.objects.create(status=HealthStatus.UNKNOWN)
    ServerHealth.objects.filter(pk=old.pk).update(
        checked_at=timezone.now() - timedelta(days=settings.HEALTH_RETENTION_DAYS + 1)
    )

    outcome = server_health_check_task()

    assert outcome["pruned"] == 1
    assert list(ServerHealth.objects.values_list("status", flat=True)) == [HealthStatus.HEALTHY]


def test_beat_runs_the_check_every_interval_on_the_housekeeping_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["check-inference-health"]

    assert entry["task"] == server_health_check_task.name == "monitoring.server_health_check"
    assert entry["schedule"] == float(settings.HEALTH_CHECK_INTERVAL)
    assert entry["task"] in celery_app.tasks
    route = celery_app.amqp.router.route({}, entry["task"])
    assert route["queue"].name == settings.HOUSEKEEPING_QUEUE
    soft_limit = settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS
    assert server_health_check_task.soft_time_limit == soft_limit
