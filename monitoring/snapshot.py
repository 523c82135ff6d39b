"""The monitoring page's kept figures: the inference server's `/stats` and the queues as last
checked.

The beat health check refreshes them, so that the page never asks the server or broadcasts to the
workers while an operator waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from drishtiksha.errors import DomainError
from media_analysis.discovery import stats_cache_key
from monitoring.health import ServerStatus, server_status_get
from monitoring.models import HealthStatus, ServerHealth
from monitoring.queues import QueueStatus, queue_status_get
from monitoring.windows import CACHED_FIGURES_VERSION, kept_figures_max_age_seconds

UNCHECKED_SERVER_MESSAGE = "The inference server's answer was not recorded."


@dataclass(frozen=True)
class MonitoringSnapshot:
    """The inference server's `/stats` and the queues as last checked, each with its time.

    A part that could not be checked has its error instead of its figures.
    """

    server_status: ServerStatus | None
    server_error: str
    server_checked_at: datetime
    queue_status: QueueStatus | None
    queue_error: str
    queues_checked_at: datetime

    @property
    def checked_at(self) -> datetime:
        """When the older of the two parts was checked."""
        return min(self.server_checked_at, self.queues_checked_at)

    def is_stale(self, *, now: datetime | None = None) -> bool:
        age = (now or timezone.now()) - self.checked_at
        return age.total_seconds() > kept_figures_max_age_seconds()


def monitoring_snapshot_cache_key() -> str:
    # Per server URL (beside discovery's key), so that a new URL never shows the old server.
    return f"{stats_cache_key()}:monitoring-snapshot:{CACHED_FIGURES_VERSION}"


def monitoring_snapshot_get() -> MonitoringSnapshot | None:
    """The figures the last check kept (one cache read), or None when none was kept yet."""
    return cache.get(monitoring_snapshot_cache_key())


def _server_status_from_health(health: ServerHealth) -> tuple[ServerStatus | None, str]:
    if health.status == HealthStatus.UNHEALTHY or health.stats_payload is None:
        return None, health.error_message or UNCHECKED_SERVER_MESSAGE
    return (
        ServerStatus(
            stats=health.stats_payload,
            response_time_ms=health.response_time_ms or 0,
            cached_at=health.checked_at,
        ),
        "",
    )


def monitoring_snapshot_refresh(*, health: ServerHealth | None = None) -> MonitoringSnapshot:
    """Check the inference server and the queues now and keep the figures for the page.

    With `health` (the check the beat task has just recorded) the server is not asked twice.
    Without it (no figures kept yet, or the page's "Check now") the server is asked through
    `server_status_get`, which records no health row: the history stays the beat task's. Kept
    without expiry: old figures are shown with their age rather than not at all.
    Cost: up to three inspect broadcasts (MONITORING_INSPECT_TIMEOUT_SECONDS each at most), one
    LLEN per queue, one aggregate query, and one `/stats` request when `health` is not given.
    """
    if health is not None:
        server_status, server_error = _server_status_from_health(health)
        server_checked_at = health.checked_at
    else:
        server_checked_at = timezone.now()
        try:
            server_status, server_error = server_status_get(), ""
            server_checked_at = server_status.cached_at
        except DomainError as exc:
            server_status, server_error = None, exc.message
    queues_checked_at = timezone.now()
    queue_status: QueueStatus | None
    try:
        queue_status, queue_error = queue_status_get(), ""
    except DomainError as exc:
        queue_status, queue_error = None, exc.message
    snapshot = MonitoringSnapshot(
        server_status=server_status,
        server_error=server_error,
        server_checked_at=server_checked_at,
        queue_status=queue_status,
        queue_error=queue_error,
        queues_checked_at=queues_checked_at,
    )
    cache.set(monitoring_snapshot_cache_key(), snapshot, timeout=None)
    return snapshot
