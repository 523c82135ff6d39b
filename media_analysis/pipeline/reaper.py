"""The reaper: the safety net for everything a chord cannot see — a worker killed mid-analysis,
a lost message, a chord whose callback never came. `runs_reap` re-sends or fails analyses that
nobody is working on and finalizes the runs they belong to; the beat runs it every
ANALYSIS_REAPER_INTERVAL_SECONDS.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from drishtiksha.errors import NotFound
from drishtiksha.task_send import task_send
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.events import ProgressEvent
from media_analysis.leases import AnalysisLease
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.common import OPEN_ANALYSIS_STATUSES, after_commit
from media_analysis.pipeline.dispatch import run_dispatch_enqueue
from media_analysis.pipeline.execute import analysis_event_publish, analysis_max_attempts
from media_analysis.pipeline.finish import run_finalize
from media_analysis.task_names import ANALYSIS_EXECUTE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReapResult:
    """Ids touched by one sweep of the reaper."""

    redispatched: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    finalized_runs: list[str] = field(default_factory=list)
    dispatch_resent: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return asdict(self)


def _stale_filter(*, stuck_before: datetime, queued_before: datetime) -> Q:
    # A PENDING analysis may be legitimately waiting in a long queue, so it gets more time.
    return Q(status=AnalysisStatus.PROCESSING, updated_at__lt=stuck_before) | Q(
        status=AnalysisStatus.PENDING, updated_at__lt=queued_before
    )


def _analysis_reap(
    *, analysis_id: uuid.UUID, stale: Q, now: datetime
) -> tuple[str, DeepfakeAnalysis] | None:
    """Re-send or fail one stale analysis. The caller holds its lease, so no task can claim it
    meanwhile; the row is re-checked under a row lock in case a task finished it just before."""
    with transaction.atomic():
        analysis = (
            DeepfakeAnalysis.objects.select_for_update(of=("self",))
            .select_related("run__media")
            .filter(stale, pk=analysis_id)
            .first()
        )
        if analysis is None:
            return None
        if (
            analysis.redispatches >= settings.ANALYSIS_REAPER_MAX_REDISPATCHES
            or analysis.attempts >= analysis_max_attempts()
        ):
            idle = (now - analysis.updated_at).total_seconds()
            analysis.status = AnalysisStatus.FAILED
            analysis.error_message = f"Timed out: no progress for {idle:.0f} seconds."
            analysis.error_details = {
                "kind": "timeout",
                "attempts": analysis.attempts,
                "redispatches": analysis.redispatches,
            }
            analysis.finished_at = now
            analysis.save(
                update_fields=[
                    "status",
                    "error_message",
                    "error_details",
                    "finished_at",
                    "updated_at",
                ]
            )
            after_commit(
                analysis_event_publish,
                analysis,
                ProgressEvent.ANALYSIS_FAILED,
                status=AnalysisStatus.FAILED,
                error=analysis.error_message,
                attempts=analysis.attempts,
            )
            return "timed_out", analysis
        analysis.status = AnalysisStatus.PENDING
        analysis.redispatches += 1
        analysis.task_id = str(uuid.uuid4())
        analysis.save(update_fields=["status", "redispatches", "task_id", "updated_at"])
        after_commit(_analysis_resend, analysis_id=analysis.pk, task_id=analysis.task_id)
        return "redispatched", analysis


def _analysis_resend(*, analysis_id: uuid.UUID, task_id: str) -> None:
    # Outside the run's chord: the task finalizes the run itself when it is the last one open.
    task_send(ANALYSIS_EXECUTE, {"analysis_id": str(analysis_id)}, task_id=task_id)


def runs_reap(*, now: datetime | None = None) -> ReapResult:
    """One sweep of the stuck-run reaper; safe to run at any time, also while tasks are live.

    1. An analysis nobody works on (its lease lapsed or never existed) with no update for
       ANALYSIS_STUCK_TIMEOUT_SECONDS (ANALYSIS_QUEUED_TIMEOUT_SECONDS if it never started) is
       sent again, up to ANALYSIS_REAPER_MAX_REDISPATCHES times and within its attempt budget;
       after that it fails as timed out. An analysis whose lease is held is never touched.
    2. A run whose analyses are all final but which is still open (its chord callback was lost)
       is finalized.
    3. A run still waiting for its models whose dispatch task has gone quiet gets a new one.
    """
    now = now or timezone.now()
    stale = _stale_filter(
        stuck_before=now - timedelta(seconds=settings.ANALYSIS_STUCK_TIMEOUT_SECONDS),
        queued_before=now - timedelta(seconds=settings.ANALYSIS_QUEUED_TIMEOUT_SECONDS),
    )
    result = ReapResult()
    candidates = DeepfakeAnalysis.objects.filter(stale, run__status__in=RunStatus.active())
    for analysis_id in candidates.values_list("pk", flat=True):
        lease = AnalysisLease(analysis_id=analysis_id, owner=f"reaper:{uuid.uuid4()}")
        if not lease.acquire(wait=False):
            continue
        try:
            reaped = _analysis_reap(analysis_id=analysis_id, stale=stale, now=now)
        finally:
            lease.release()
        if reaped is not None:
            action, analysis = reaped
            getattr(result, action).append(str(analysis.pk))
            logger.warning(
                "reaper %s analysis %s (%s) of run %s",
                action.replace("_", " "),
                analysis.pk,
                analysis.model_name,
                analysis.run_id,
            )

    settled = (
        AnalysisRun.objects.filter(status__in=RunStatus.active())
        .annotate(
            analyses_count=Count("analyses"),
            open_count=Count("analyses", filter=Q(analyses__status__in=OPEN_ANALYSIS_STATUSES)),
        )
        .filter(analyses_count__gt=0, open_count=0)
    )
    for run_id in settled.values_list("pk", flat=True):
        try:
            finalized = run_finalize(run_id=run_id)
        except NotFound:
            continue
        if finalized.status in RunStatus.final():
            result.finalized_runs.append(str(run_id))

    undispatched = AnalysisRun.objects.filter(
        status__in=RunStatus.active(),
        analyses__isnull=True,
        updated_at__lt=now - timedelta(seconds=settings.ANALYSIS_STUCK_TIMEOUT_SECONDS),
    )
    for run_id in undispatched.values_list("pk", flat=True):
        if AnalysisRun.objects.filter(pk=run_id, updated_at__lt=now).update(updated_at=now):
            run_dispatch_enqueue(run_id=run_id)
            result.dispatch_resent.append(str(run_id))

    if any(result.as_dict().values()):
        logger.warning("reaper sweep: %s", result.as_dict())
    return result
