"""Services of the operator console: inference-server health checks and status repair.

The API, the monitoring page, the admin and the beat task all call these; none of them changes a
status any other way.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from drishtiksha.errors import DomainError, NotFound
from media_analysis import ml_client
from media_analysis.choices import RunStatus
from media_analysis.models import AnalysisRun, Media
from media_analysis.services.runs import OPEN_ANALYSIS_STATUSES, run_finalize
from monitoring.models import HealthStatus, ServerHealth
from monitoring.selectors import (
    STALE_AFTER_CHECK_INTERVALS,
    CachedAnalytics,
    InconsistencyKind,
    MonitoringSnapshot,
    QueueStatus,
    ServerStatus,
    analytics_cache_key,
    analytics_get,
    elapsed_ms,
    media_inconsistencies_list,
    monitoring_snapshot_cache_key,
    queue_status_get,
    run_inconsistencies_list,
    server_status_get,
)

logger = logging.getLogger(__name__)

# The `status` values servers of the contract report when all is well, or partly well.
HEALTHY_SERVER_STATUSES = frozenset({"ok", "healthy", "running"})
DEGRADED_SERVER_STATUSES = frozenset({"degraded"})


# --- Health checks --------------------------------------------------------------------------------


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


# --- The monitoring page's cached figures ---------------------------------------------------------

UNCHECKED_SERVER_MESSAGE = "The inference server's answer was not recorded."


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


def analytics_cache_refresh(*, days: int) -> CachedAnalytics:
    """Compute the analytics of the last `days` now and keep them until they would be stale (the
    beat check recomputes the default window every interval). Cost: `analytics_get`'s six
    queries over the window's rows."""
    cached = CachedAnalytics(analytics=analytics_get(days=days), computed_at=timezone.now())
    timeout = STALE_AFTER_CHECK_INTERVALS * settings.HEALTH_CHECK_INTERVAL
    cache.set(analytics_cache_key(days=days), cached, timeout=timeout)
    return cached


# --- Status repair --------------------------------------------------------------------------------


def run_resettle(*, run_id: uuid.UUID | str) -> AnalysisRun:
    """Settle a run again from its analyses, always through `run_finalize`.

    - An open run is finalized (left open while analyses are still open: the pipeline and the
      reaper own those).
    - A final run whose analyses are all final is reopened and finalized in one transaction, so
      that `run_finalize` recomputes its status, verdict and error summary; nobody sees it open,
      and its original `finished_at` is kept.
    - A final run with analyses still open is reopened as PROCESSING: closing it now would throw
      away work in progress, and the reaper re-sends or fails those analyses and then finalizes.
    - A final run without analyses (closed because no model could run) has nothing to recompute
      and is returned unchanged.
    """
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise NotFound("Run not found.")
        if run.status in RunStatus.active():
            return run_finalize(run_id=run.pk)
        counts = run.analyses.aggregate(
            total=Count("pk"), open=Count("pk", filter=Q(status__in=OPEN_ANALYSIS_STATUSES))
        )
        if not counts["total"]:
            return run
        now = timezone.now()
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=RunStatus.PROCESSING, finished_at=None, updated_at=now
        )
        Media.objects.filter(latest_run_id=run.pk).update(
            status=RunStatus.PROCESSING, updated_at=now
        )
        if counts["open"]:
            logger.warning("run %s reopened: %d analyses still open", run.pk, counts["open"])
            return AnalysisRun.objects.get(pk=run.pk)
        settled = run_finalize(run_id=run.pk)
        if run.finished_at is not None:
            AnalysisRun.objects.filter(pk=run.pk).update(finished_at=run.finished_at)
            settled.finished_at = run.finished_at
    logger.info("run %s re-settled: %s -> %s", run.pk, run.status, settled.status)
    return settled


def media_status_realign(*, media_id: uuid.UUID | str) -> Media:
    """Give a media item its latest run's status again (the media mirrors that run)."""
    media = Media.objects.select_related("latest_run").filter(pk=media_id).first()
    if media is None:
        raise NotFound("Media not found.")
    if media.latest_run is not None and media.status != media.latest_run.status:
        media.status = media.latest_run.status
        media.save(update_fields=["status", "updated_at"])
    return media


@dataclass(frozen=True)
class StatusChange:
    kind: InconsistencyKind
    media_id: uuid.UUID
    run_id: uuid.UUID | None
    before: str
    after: str


def statuses_fix() -> list[StatusChange]:
    """Repair every inconsistency `status_inconsistencies_list` finds; returns what changed.

    Runs first (re-settling a run realigns its media too), then whatever media still disagree
    with their latest run. A run reopened for the reaper reports PROCESSING as its new status.
    """
    changes = []
    for item in run_inconsistencies_list():
        run = run_resettle(run_id=item.run_id)
        if run.status != item.stored_status:
            changes.append(
                StatusChange(
                    kind=item.kind,
                    media_id=item.media_id,
                    run_id=item.run_id,
                    before=item.stored_status,
                    after=run.status,
                )
            )
    for item in media_inconsistencies_list():
        media = media_status_realign(media_id=item.media_id)
        changes.append(
            StatusChange(
                kind=item.kind,
                media_id=item.media_id,
                run_id=item.run_id,
                before=item.stored_status,
                after=media.status,
            )
        )
    if changes:
        logger.warning("statuses fixed: %d change(s)", len(changes))
    return changes
