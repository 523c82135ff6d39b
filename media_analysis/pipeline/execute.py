"""Running one model on one media item: `analysis_execute`, and `analysis_fail` for what it cannot
record itself.

Take the analysis's lease, claim the row atomically, call `/analyze`, store the result, the
abstention ("no evidence", ABSTAINED with its reason) or the error. Transient errors are retried
with backoff; nothing is ever done twice, and a deleted media just makes it stop. The run is
finalized by the caller (`finish.run_finalize_if_settled`), once the final event is out.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from drishtiksha.retry import backoff_delay
from media_analysis import ml_client
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.events import ProgressEvent, event_publish
from media_analysis.leases import AnalysisLease
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.common import OPEN_ANALYSIS_STATUSES
from media_analysis.pipeline.finish import media_status_set

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """What one execution of an analysis task did."""

    COMPLETED = "completed"
    # The model answered that it has no evidence to judge the media by.
    ABSTAINED = "abstained"
    FAILED = "failed"
    RETRY = "retry"
    # Another live worker holds the analysis; it will store the result.
    BUSY = "busy"
    # The analysis was already final: a redelivered or duplicate task.
    ALREADY_FINAL = "already_final"
    # The media (and with it the run and the analysis) was deleted.
    GONE = "gone"


@dataclass(frozen=True)
class AnalysisOutcome:
    outcome: Outcome
    run_id: uuid.UUID | None = None
    retry_in: float | None = None
    # How many analyses the run has, when this execution read it (see run_finalize_if_settled).
    run_analyses: int | None = None


def analysis_max_attempts() -> int:
    """Tries an analysis gets: the first one and ANALYSIS_MAX_RETRIES more."""
    return settings.ANALYSIS_MAX_RETRIES + 1


def analysis_execute(*, analysis_id: uuid.UUID | str, task_id: str) -> AnalysisOutcome:
    """Run one model on one media item, at most once at a time and never again once final.

    The lease makes this exclusive: a redelivered copy of a task whose worker died waits for the
    dead worker's lease to lapse and then takes over; a copy racing a live worker gives up.
    Returns what happened; a RETRY outcome carries the delay before the next attempt.
    """
    lease = AnalysisLease(analysis_id=analysis_id, owner=task_id)
    if not lease.acquire(wait=True):
        logger.info(
            "analysis %s is held by a live worker; task %s stands down", analysis_id, task_id
        )
        return AnalysisOutcome(Outcome.BUSY)
    try:
        with lease.heartbeat():
            return _analysis_execute_leased(analysis_id=analysis_id, task_id=task_id)
    finally:
        lease.release()


def _analysis_claim(*, analysis_id: uuid.UUID | str, task_id: str) -> DeepfakeAnalysis | None:
    """Mark the analysis PROCESSING by this task, in one conditional UPDATE; None if final/gone."""
    now = timezone.now()
    claimed = DeepfakeAnalysis.objects.filter(
        pk=analysis_id, status__in=OPEN_ANALYSIS_STATUSES
    ).update(
        status=AnalysisStatus.PROCESSING,
        attempts=F("attempts") + 1,
        task_id=task_id,
        started_at=Coalesce("started_at", Value(now)),
        updated_at=now,
    )
    if not claimed:
        return None
    siblings = (
        DeepfakeAnalysis.objects.filter(run_id=OuterRef("run_id"))
        .order_by()
        .values("run_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        DeepfakeAnalysis.objects.select_related("run__media")
        .annotate(run_analyses=Subquery(siblings))
        .filter(pk=analysis_id)
        .first()
    )


def _analysis_execute_leased(*, analysis_id: uuid.UUID | str, task_id: str) -> AnalysisOutcome:
    analysis = _analysis_claim(analysis_id=analysis_id, task_id=task_id)
    if analysis is None:
        run_id = DeepfakeAnalysis.objects.filter(pk=analysis_id).values_list("run_id", flat=True)
        run_id = run_id.first()
        return AnalysisOutcome(Outcome.ALREADY_FINAL if run_id else Outcome.GONE, run_id=run_id)
    if analysis.attempts > analysis_max_attempts():
        # Only a redelivered message gets here (retries stop at the budget): the last attempt's
        # worker died without an answer. A file that kills workers must not loop forever.
        return _analysis_finish_failed(
            analysis,
            message=(
                f"Gave up after {analysis_max_attempts()} attempts; the last one stopped without "
                "an answer (its worker was lost)."
            ),
            details={"kind": "worker_lost"},
        )

    run = analysis.run
    _run_mark_processing(run)
    # Not waited for: the model need not wait on Redis. The final event, which is, follows it.
    analysis_event_publish(
        analysis,
        ProgressEvent.ANALYSIS_STARTED,
        wait=False,
        status=AnalysisStatus.PROCESSING,
        attempt=analysis.attempts,
    )
    try:
        result = ml_client.media_analyze(media=run.media, model_name=analysis.model_name)
    except ml_client.InferenceError as exc:
        if exc.transient and analysis.attempts < analysis_max_attempts():
            delay = backoff_delay(
                attempt=analysis.attempts,
                base=settings.ANALYSIS_RETRY_BACKOFF_SECONDS,
                cap=settings.ANALYSIS_RETRY_BACKOFF_MAX_SECONDS,
            )
            _analysis_note_retry(analysis, error=exc, delay=delay)
            return AnalysisOutcome(Outcome.RETRY, run_id=run.pk, retry_in=delay)
        return _analysis_finish_failed(analysis, message=exc.message, details=exc.details())
    return _analysis_finish_answered(analysis, result)


def _run_mark_processing(run: AnalysisRun) -> None:
    if run.status != RunStatus.QUEUED:
        return
    # Two short statements, not a transaction: the models of a run start together, and holding
    # the run row across both would only make them queue behind one another.
    now = timezone.now()
    if AnalysisRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.PROCESSING, started_at=now, updated_at=now
    ):
        media_status_set(run_id=run.pk, status=RunStatus.PROCESSING, at=now)


def analysis_event_publish(
    analysis: DeepfakeAnalysis, event: ProgressEvent, *, wait: bool = True, **data: Any
) -> None:
    """Tell the media's owner how one analysis is doing (progress events, over the websocket)."""
    media = analysis.run.media
    event_publish(
        event=event,
        user_id=media.owner_id,
        media_id=media.pk,
        run_id=analysis.run_id,
        model_name=analysis.model_name,
        data={"analysisId": str(analysis.pk), **data},
        wait=wait,
    )


def _analysis_note_retry(
    analysis: DeepfakeAnalysis, *, error: ml_client.InferenceError, delay: float
) -> None:
    """Keep the last error visible while the analysis waits for its next attempt."""
    DeepfakeAnalysis.objects.filter(
        pk=analysis.pk, status=AnalysisStatus.PROCESSING, task_id=analysis.task_id
    ).update(
        error_details={**error.details(), "attempts": analysis.attempts, "retry_in": delay},
        updated_at=timezone.now(),
    )
    logger.info(
        "analysis %s (%s) attempt %d failed transiently, retry in %.1f s: %s",
        analysis.pk,
        analysis.model_name,
        analysis.attempts,
        delay,
        error.message,
    )


def _analysis_finish_answered(
    analysis: DeepfakeAnalysis, result: ml_client.AnalysisResult
) -> AnalysisOutcome:
    """Store the model's answer: a prediction (COMPLETED), or "no evidence" (ABSTAINED) with its
    reason and no prediction or confidence."""
    abstained = result.abstained
    status = AnalysisStatus.ABSTAINED if abstained else AnalysisStatus.COMPLETED
    answer = {
        "prediction": None if abstained else result.prediction,
        "confidence": None if abstained else result.confidence,
    }
    now = timezone.now()
    stored = DeepfakeAnalysis.objects.filter(
        pk=analysis.pk, status=AnalysisStatus.PROCESSING, task_id=analysis.task_id
    ).update(
        status=status,
        abstain_reason=result.abstain_reason if abstained else "",
        **answer,
        processing_time=result.processing_time,
        media_type=result.media_type or analysis.run.media.media_type,
        model_used=result.model_used,
        result_payload=result.data,
        error_message="",
        error_details={},
        progress=Coalesce("total", "progress"),
        finished_at=now,
        updated_at=now,
    )
    if not stored:
        return AnalysisOutcome(Outcome.GONE, run_id=analysis.run_id)
    if abstained:
        logger.info(
            "analysis %s (%s) abstained: %s",
            analysis.pk,
            analysis.model_name,
            result.abstain_reason,
        )
    # The analysis finished either way, so the event is ANALYSIS_COMPLETED; its status says how.
    analysis_event_publish(
        analysis,
        ProgressEvent.ANALYSIS_COMPLETED,
        status=status,
        **({"abstainReason": result.abstain_reason} if abstained else {}),
        **answer,
        processingTime=result.processing_time,
        modelUsed=result.model_used,
    )
    return AnalysisOutcome(
        Outcome.ABSTAINED if abstained else Outcome.COMPLETED,
        run_id=analysis.run_id,
        run_analyses=analysis.run_analyses,
    )


def _analysis_record_failure(
    analysis: DeepfakeAnalysis, *, claim: dict[str, Any], message: str, details: dict[str, Any]
) -> bool:
    """Mark the analysis FAILED if `claim` still holds for its row, and tell the user.

    Returns False when the row had moved on (finished, taken over or deleted) and was left alone.
    """
    now = timezone.now()
    stored = DeepfakeAnalysis.objects.filter(pk=analysis.pk, **claim).update(
        status=AnalysisStatus.FAILED,
        error_message=message,
        error_details={**details, "attempts": analysis.attempts},
        finished_at=now,
        updated_at=now,
    )
    if not stored:
        return False
    logger.info("analysis %s (%s) failed: %s", analysis.pk, analysis.model_name, message)
    analysis_event_publish(
        analysis,
        ProgressEvent.ANALYSIS_FAILED,
        status=AnalysisStatus.FAILED,
        error=message,
        attempts=analysis.attempts,
    )
    return True


def _analysis_finish_failed(
    analysis: DeepfakeAnalysis, *, message: str, details: dict[str, Any]
) -> AnalysisOutcome:
    held = {"status": AnalysisStatus.PROCESSING, "task_id": analysis.task_id}
    if not _analysis_record_failure(analysis, claim=held, message=message, details=details):
        return AnalysisOutcome(Outcome.GONE, run_id=analysis.run_id)
    return AnalysisOutcome(
        Outcome.FAILED, run_id=analysis.run_id, run_analyses=analysis.run_analyses
    )


def analysis_fail(
    *, analysis_id: uuid.UUID | str, message: str, details: dict[str, Any]
) -> AnalysisOutcome:
    """Fail an analysis that is not final yet, whoever was working on it.

    For the cases `analysis_execute` cannot record itself: its task hit the soft time limit or an
    unexpected error.
    """
    analysis = DeepfakeAnalysis.objects.select_related("run__media").filter(pk=analysis_id).first()
    if analysis is None:
        return AnalysisOutcome(Outcome.GONE)
    still_open = {"status__in": OPEN_ANALYSIS_STATUSES}
    if not _analysis_record_failure(analysis, claim=still_open, message=message, details=details):
        return AnalysisOutcome(Outcome.ALREADY_FINAL, run_id=analysis.run_id)
    return AnalysisOutcome(Outcome.FAILED, run_id=analysis.run_id)
