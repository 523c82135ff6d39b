"""Celery beat tasks of monitoring: thin interfaces to `monitoring.services`."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from monitoring.services import server_health_check, server_health_prune


@shared_task(
    name="monitoring.check_inference_health",
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def check_inference_health() -> dict[str, object]:
    """Beat, every HEALTH_CHECK_INTERVAL seconds (housekeeping queue). Cost: one `/stats` request
    (bounded by the ML connect and stats read timeouts), one INSERT, one indexed DELETE."""
    health = server_health_check()
    pruned = server_health_prune()
    return {"status": health.status, "responseTimeMs": health.response_time_ms, "pruned": pruned}
