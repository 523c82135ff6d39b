"""Celery beat tasks of monitoring: thin interfaces to monitoring's services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from monitoring.analytics import analytics_cache_refresh
from monitoring.health import server_health_check, server_health_prune
from monitoring.snapshot import monitoring_snapshot_refresh


@shared_task(
    name="monitoring.server_health_check",
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def server_health_check_task() -> dict[str, object]:
    """Beat, every HEALTH_CHECK_INTERVAL seconds (housekeeping queue).

    Records the check and keeps the figures the monitoring page shows, so that the page reads
    them instead of asking the server and the workers itself. Cost: one `/stats` request (bounded
    by the ML connect and stats read timeouts), one INSERT, one indexed DELETE, the queue status
    (up to three inspect broadcasts of MONITORING_INSPECT_TIMEOUT_SECONDS at most, one LLEN per
    queue, one aggregate query) and the default window's analytics (six queries).
    """
    health = server_health_check()
    pruned = server_health_prune()
    monitoring_snapshot_refresh(health=health)
    analytics_cache_refresh(days=settings.MONITORING_ANALYTICS_DEFAULT_DAYS)
    return {"status": health.status, "responseTimeMs": health.response_time_ms, "pruned": pruned}
