"""The inference server's health: its `/stats` asked now, the recorded checks, and their upkeep.

The beat task records a check every HEALTH_CHECK_INTERVAL (`server_health_check`) and prunes old
ones; the API and the pages read the history, or ask the server now (`server_status_get`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from drishtiksha.errors import GatewayTimeout, ServiceUnavailable
from media_analysis import ml_client
from media_analysis.discovery import stats_cache_key
from monitoring.models import HealthStatus, ServerHealth
from monitoring.windows import CACHED_FIGURES_VERSION

logger = logging.getLogger(__name__)

MILLISECONDS_PER_SECOND = 1000
# The `status` values servers of the contract report when all is well, or partly well.
HEALTHY_SERVER_STATUSES = frozenset({"ok", "healthy", "running"})
DEGRADED_SERVER_STATUSES = frozenset({"degraded"})


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a `time.monotonic()` reading)."""
    return round((time.monotonic() - started) * MILLISECONDS_PER_SECOND)


# --- Asked now ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerStatus:
    """One `/stats` answer, how long it took, and when it was fetched (it may be cached)."""

    stats: dict[str, Any]
    response_time_ms: int
    cached_at: datetime


def _server_status_cache_key() -> str:
    # Beside discovery's own key, per server URL, so that a new URL never serves the old answer.
    # The value is a pickled `ServerStatus`: the version changes when its class moves or changes.
    return f"{stats_cache_key()}:monitoring:{CACHED_FIGURES_VERSION}"


def server_status_get() -> ServerStatus:
    """The inference server's `/stats`, asked now or at most MONITORING_STATUS_CACHE_SECONDS ago.

    Deliberately not discovery's cache, which may be a minute old: an operator asking whether the
    server is up wants the answer of now. The short cache only absorbs reloads of the page.
    Raises `GatewayTimeout` when the server did not answer in time and `ServiceUnavailable` when
    it refused, could not be reached, or answered with an error.
    """
    ttl = settings.MONITORING_STATUS_CACHE_SECONDS
    if ttl > 0:
        cached = cache.get(_server_status_cache_key())
        if cached is not None:
            return cached
    started = time.monotonic()
    try:
        stats = ml_client.stats_fetch()
    except ml_client.InferenceTimeoutError as exc:
        raise GatewayTimeout(exc.message) from exc
    except ml_client.InferenceError as exc:
        raise ServiceUnavailable(exc.message) from exc
    status = ServerStatus(
        stats=stats, response_time_ms=elapsed_ms(started), cached_at=timezone.now()
    )
    if ttl > 0:
        cache.set(_server_status_cache_key(), status, timeout=ttl)
    return status


# --- The recorded checks --------------------------------------------------------------------------


def server_history_list(*, limit: int) -> list[ServerHealth]:
    """The newest `limit` health checks, newest first."""
    return list(ServerHealth.objects.order_by("-checked_at", "-pk")[:limit])


def server_health_latest() -> ServerHealth | None:
    return ServerHealth.objects.order_by("-checked_at", "-pk").first()


def health_status_from_payload(stats: dict[str, Any]) -> HealthStatus:
    """The health a `/stats` answer reports about itself; a status string we do not know (say
    "starting") is UNKNOWN: the server answered, but did not say whether it can work."""
    reported = str(stats.get("status") or "").strip().lower()
    if reported in HEALTHY_SERVER_STATUSES:
        return HealthStatus.HEALTHY
    if reported in DEGRADED_SERVER_STATUSES:
        return HealthStatus.DEGRADED
    return HealthStatus.UNKNOWN


def _error_text(error: ml_client.InferenceError) -> str:
    return f"HTTP {error.status_code}: {error.message}" if error.status_code else error.message


def server_health_check() -> ServerHealth:
    """Ask the inference server's `/stats` now and record the answer as a ServerHealth row.

    The response time is how long the check took, failures included: a timeout then shows as a
    long, red point in the history rather than as a gap.
    """
    started = time.monotonic()
    try:
        stats = ml_client.stats_fetch()
    except ml_client.InferenceError as exc:
        # Every failed check is UNHEALTHY: unreachable, timed out, 5xx, refusing our key, or an
        # answer that is not a `/stats` (a 404, a body that is not JSON or has no model list).
        # Whatever the cause, nothing can be discovered or analysed through the server now.
        health = ServerHealth.objects.create(
            status=HealthStatus.UNHEALTHY,
            response_time_ms=elapsed_ms(started),
            error_message=_error_text(exc),
        )
        logger.warning("inference server health: %s (%s)", health.status, health.error_message)
        return health
    return ServerHealth.objects.create(
        status=health_status_from_payload(stats),
        response_time_ms=elapsed_ms(started),
        stats_payload=stats,
    )


def server_health_prune(*, now: datetime | None = None) -> int:
    """Delete health rows older than HEALTH_RETENTION_DAYS; returns how many went.

    One indexed DELETE on `checked_at`: cheap enough to run after every check.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.HEALTH_RETENTION_DAYS)
    deleted, _ = ServerHealth.objects.filter(checked_at__lt=cutoff).delete()
    return deleted
