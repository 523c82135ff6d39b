"""How an analysis run starts, fans out to every compatible model, and always finishes.

    run_start ──► one PENDING row per model ──(on commit)──► chord( analyze_with_model × N )
        │                                                          │ callback
        └─ a new upload, or the inference server unreachable:      ▼
           no rows yet; dispatch_run probes the upload         finalize_run ──► run_finalize
           and retries discovery ──► run_dispatch

- `analysis_execute` (one model): take the analysis's lease, claim the row atomically, call
  `/analyze`, store the result, the abstention ("no evidence", ABSTAINED with its reason) or the
  error. Transient errors are retried with backoff; nothing is ever done twice, and a deleted
  media just makes it stop.
- `run_finalize`: once every analysis is final, settle the run's status and verdict exactly once.
  An abstention is an answer, not a failure: it leaves the run ANALYZED, and the verdict out.
  The last analysis task to finish calls it (`run_finalize_if_settled`); the chord callback then
  finds the run final, and is the guarantee when that call failed.
- `runs_reap`: the safety net for everything a chord cannot see — a worker killed mid-analysis,
  a lost message, a chord whose callback never came. It re-sends or fails analyses that nobody
  is working on and finalizes the runs they belong to.
"""

from __future__ import annotations

import copy
import enum
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import AuditAction
from audit.services import SYSTEM, AuditContext, audit_record
from drishtiksha.errors import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from integrations.services import webhooks_run_completed_enqueue
from media_analysis import discovery, ml_client
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.discovery import InferenceModel
from media_analysis.events import (
    EventSpec,
    ProgressEvent,
    event_publish,
    events_publish,
    run_final_event_sent,
)
from media_analysis.leases import AnalysisLease
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.presenters import media_to_dict
from media_analysis.selectors import media_get_with_latest_run
from media_analysis.services.prepare import REFUSED_PREFIX, media_prepare
from media_analysis.verdict import verdict_compute

logger = logging.getLogger(__name__)

OPEN_ANALYSIS_STATUSES = (AnalysisStatus.PENDING, AnalysisStatus.PROCESSING)
# Final and not failed: the model gave an answer, a prediction or "no evidence".
ANSWERED_ANALYSIS_STATUSES = (AnalysisStatus.COMPLETED, AnalysisStatus.ABSTAINED)


class RunInProgress(Conflict):
    default_message = "An analysis of this media is already queued or running."


class InferenceUnavailable(ServiceUnavailable):
    default_message = "The inference server cannot be reached right now."


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


@dataclass(frozen=True)
class ReapResult:
    """Ids touched by one sweep of the reaper."""

    redispatched: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    finalized_runs: list[str] = field(default_factory=list)
    dispatch_resent: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return asdict(self)


def backoff_delay(*, attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter.

    Half of the delay is fixed and half random, so that the analyses of a burst that failed
    together (a restarting inference server) do not all come back at the same moment.
    """
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security


def _after_commit(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Call `func(*args, **kwargs)` once the current transaction commits; if it raises (the broker
    is unreachable, say), log it and carry on: the rows are committed and the reaper catches up.

    Not `on_commit(partial(...), robust=True)`: Django logs a failed robust callback by its
    `__qualname__`, which a partial lacks, so the failure surfaced as an AttributeError instead.
    """

    def callback() -> None:
        func(*args, **kwargs)

    callback.__qualname__ = func.__qualname__
    transaction.on_commit(callback, robust=True)


# --- Starting a run -------------------------------------------------------------------------------


def _requested_names(model_names: Sequence[str] | None) -> list[str] | None:
    if model_names is None:
        return None
    if isinstance(model_names, str):
        model_names = [model_names]
    names = list(dict.fromkeys(name.strip() for name in model_names if name and name.strip()))
    if not names:
        message = "Name at least one model, or leave the list out to run every compatible one."
        raise ValidationFailed(message, field_errors={"models": message})
    return names


def _media_kind(media: Media) -> str:
    if media.media_type == MediaType.VIDEO:
        return "video with an audio track" if media.has_audio else "video without an audio track"
    if media.media_type == MediaType.AUDIO:
        return "audio file"
    if media.media_type == MediaType.IMAGE:
        return "image"
    return "file of an unknown type"


def _models_select(
    *, media: Media, available: list[InferenceModel], requested: list[str] | None
) -> list[str]:
    """The model names to run: every compatible one, or the requested ones if all compatible."""
    compatible = [
        model.name for model in available if discovery.model_can_analyse(model=model, media=media)
    ]
    if requested is None:
        return compatible
    known = {model.name for model in available}
    unknown = [name for name in requested if name not in known]
    unusable = [name for name in requested if name in known and name not in compatible]
    if unknown or unusable:
        problems = []
        if unknown:
            problems.append(f"unknown model(s): {', '.join(unknown)}")
        if unusable:
            extension = ml_client.upload_extension(media=media)
            kind = f"{_media_kind(media)} (.{extension})" if extension else _media_kind(media)
            problems.append(f"not loaded or unable to analyse this {kind}: {', '.join(unusable)}")
        choices = ", ".join(compatible) or "none"
        message = f"Cannot run {'; '.join(problems)}. Compatible models: {choices}."
        raise ValidationFailed(message, field_errors={"models": message})
    return requested


def _requested_check(
    *, media: Media, available: list[InferenceModel], requested: list[str]
) -> None:
    """Before the probe, refuse the model names that cannot run on media of this type.

    Whether a video has the sound an audio-visual model needs is known only once it is probed;
    until then it is assumed to, and the dispatch checks again.
    """
    hopeful = copy.copy(media)
    if media.media_type == MediaType.VIDEO:
        hopeful.has_audio = True
    _models_select(media=hopeful, available=available, requested=requested)


def _no_model_message(media: Media) -> str:
    return f"No model loaded on the inference server can analyse this {_media_kind(media)}."


def run_start(
    *,
    media: Media,
    model_names: Sequence[str] | None = None,
    new_media: bool = False,
    audit: AuditContext = SYSTEM,
) -> AnalysisRun:
    """Start a new run of `media` on every compatible model, or on `model_names`.

    Safe inside a caller's transaction (the upload's): the tasks are enqueued only once it
    commits. Raises `ValidationFailed` for unknown or incompatible model names and
    `RunInProgress` when a run of this media is still queued or running. When the media is a new
    upload not yet probed, or the inference server cannot be asked which models it has, the run
    is created QUEUED without analyses and a dispatch task does the rest (see `run_dispatch`);
    nothing fails here.

    `new_media` says that the caller created `media` in its own transaction, still open: no
    other transaction can see the row, so run #1 is inserted without locking it or looking for
    other runs (seven statements fewer for an upload). A run started on existing media writes a
    RUN_STARTED row to the owner's audit trail, naming `audit`'s actor; run #1 of an upload is
    recorded by the upload's own row.
    """
    if new_media and not transaction.get_connection().in_atomic_block:
        raise ValueError("new_media needs the transaction that created the media to be open")
    requested = _requested_names(model_names)
    try:
        available: list[InferenceModel] | None = discovery.models_list()
    except ml_client.InferenceError as exc:
        logger.warning("model discovery failed, run dispatch deferred: %s", exc.message)
        available = None
    selected: list[str] | None = None
    if available is not None and media.prepared_at is None:
        # A new upload is probed by the dispatch task first, which then picks the models.
        if requested is not None:
            _requested_check(media=media, available=available, requested=requested)
    elif available is not None:
        selected = _models_select(media=media, available=available, requested=requested)

    with transaction.atomic(savepoint=not new_media):
        if new_media:
            locked = media
            run = _run_insert(media=media, run_number=1, requested=requested)
        else:
            locked = _media_lock_idle(media)
            run = _run_insert_next(media=locked, requested=requested)
        media_updated_at = timezone.now()
        Media.objects.filter(pk=locked.pk).update(
            latest_run=run, status=RunStatus.QUEUED, updated_at=media_updated_at
        )
        if not new_media:
            audit_record(
                action=AuditAction.RUN_STARTED,
                owner_id=locked.owner_id,
                context=audit,
                target=run,
                target_label=_run_label(filename=locked.original_filename, run=run),
                details={"media_id": str(locked.pk), "requested_models": run.requested_models},
            )
        if selected is None:
            _after_commit(_dispatch_enqueue, run_id=run.pk)
        elif not selected:
            # The media follows the run to FAILED, stamped with the run's own `updated_at`.
            _run_close(run=run, status=RunStatus.FAILED, message=_no_model_message(media))
            media_updated_at = run.updated_at
        else:
            _analyses_create(run=run, media=locked, models=available, model_names=selected)
    # `run` and `media` are left as this transaction wrote them, with no read-back: the caller
    # gets the run as started (QUEUED, or FAILED with its reason), not whatever a fast worker
    # made of it once the commit let the chord loose.
    media.latest_run, media.status, media.updated_at = run, run.status, media_updated_at
    logger.info(
        "run #%d of media %s started: %s",
        run.run_number,
        media.pk,
        ", ".join(selected) if selected else (run.error_message or "dispatch deferred"),
    )
    return run


def _run_label(*, filename: str, run: AnalysisRun) -> str:
    return f"{filename} run #{run.run_number}"


def _media_lock_idle(media: Media) -> Media:
    """Lock the media row, which serialises concurrent starts for one media item; refuse while a
    run of it is still queued or running."""
    locked = Media.objects.select_for_update().filter(pk=media.pk).first()
    if locked is None:
        raise NotFound("Media not found.")
    if AnalysisRun.objects.filter(media=locked, status__in=RunStatus.active()).exists():
        raise RunInProgress()
    return locked


def _run_insert(*, media: Media, run_number: int, requested: list[str] | None) -> AnalysisRun:
    return AnalysisRun.objects.create(
        media=media,
        run_number=run_number,
        status=RunStatus.QUEUED,
        requested_models=requested or [],
    )


def _run_insert_next(*, media: Media, requested: list[str] | None) -> AnalysisRun:
    """The media's next run; the unique (media, run_number) constraint is the last line of
    defence against a start that raced this one."""
    last_number = AnalysisRun.objects.filter(media=media).aggregate(last=Max("run_number"))["last"]
    try:
        with transaction.atomic():
            return _run_insert(media=media, run_number=(last_number or 0) + 1, requested=requested)
    except IntegrityError as exc:
        raise RunInProgress(
            "Another analysis of this media was started at the same moment."
        ) from exc


def _analyses_create(
    *, run: AnalysisRun, media: Media, models: list[InferenceModel], model_names: list[str]
) -> None:
    """One PENDING row per model, and the chord that runs them once the rows are committed.

    Each row keeps the server's description of its model (`models`, the list the names were
    chosen from): the reports explain the detector even once the server no longer lists it.
    """
    descriptions = {model.name: model.description for model in models}
    analyses = DeepfakeAnalysis.objects.bulk_create(
        DeepfakeAnalysis(
            run=run,
            model_name=name,
            model_description=descriptions.get(name, ""),
            task_id=str(uuid.uuid4()),
        )
        for name in model_names
    )
    _after_commit(
        _chord_enqueue,
        run_id=run.pk,
        media_id=media.pk,
        user_id=media.owner_id,
        analyses=[(analysis.pk, analysis.model_name, analysis.task_id) for analysis in analyses],
    )


def _chord_enqueue(
    *,
    run_id: uuid.UUID,
    media_id: uuid.UUID,
    user_id: uuid.UUID,
    analyses: list[tuple[uuid.UUID, str, str]],
) -> None:
    from celery import chord

    from media_analysis.tasks import analyze_with_model, finalize_run

    # Queued events go out before the tasks exist, so that their sequence numbers come first.
    events_publish(
        user_id=user_id,
        media_id=media_id,
        run_id=run_id,
        events=[
            EventSpec(
                ProgressEvent.ANALYSIS_QUEUED,
                model_name,
                {"analysisId": str(analysis_id), "status": AnalysisStatus.PENDING},
            )
            for analysis_id, model_name, _ in analyses
        ],
    )
    header = [
        analyze_with_model.si(analysis_id=str(analysis_id)).set(task_id=task_id)
        for analysis_id, _, task_id in analyses
    ]
    try:
        chord(header)(finalize_run.si(run_id=str(run_id)))
    except Exception:  # noqa: BLE001 - the broker is down; the rows are committed either way
        # Left as they are, the rows would wait out the whole queued timeout (an hour by
        # default) before the reaper re-sent them. Back-dated, they are re-sent by the first
        # sweep once the broker answers again; any part of the chord that did get out is
        # harmless, as a redelivered analysis is never done twice.
        logger.exception("run %s: could not enqueue its analyses; the reaper will", run_id)
        overdue = timezone.now() - timedelta(seconds=settings.ANALYSIS_QUEUED_TIMEOUT_SECONDS + 1)
        DeepfakeAnalysis.objects.filter(
            run_id=run_id, status=AnalysisStatus.PENDING, attempts=0
        ).update(updated_at=overdue)


def _dispatch_enqueue(*, run_id: uuid.UUID) -> None:
    from media_analysis.tasks import dispatch_run

    dispatch_run.delay(run_id=str(run_id))


def _run_get(run_id: uuid.UUID | str) -> AnalysisRun:
    run = AnalysisRun.objects.select_related("media").filter(pk=run_id).first()
    if run is None:
        raise NotFound("Run not found.")
    return run


def run_dispatch(*, run_id: uuid.UUID | str) -> AnalysisRun:
    """Create the analyses of a run started on a new upload or while the inference server was
    unreachable.

    A new upload is probed first (`media_prepare`); a file the probe refuses fails the run with
    the reason, and no model sees it. Then the models are picked.
    Raises `InferenceUnavailable` while the server still cannot be asked, so that the caller
    retries later; once ANALYSIS_DISCOVERY_TIMEOUT_SECONDS have passed since the run was created,
    fails the run instead, with the reason. A run that already has analyses is left alone, so
    a duplicate dispatch is harmless.
    """
    run = _run_get(run_id)
    if run.status not in RunStatus.active() or run.analyses.exists():
        return run
    if run.media.prepared_at is None:
        try:
            media_prepare(media=run.media)
        except (ValidationFailed, UnsupportedMediaType) as exc:
            message = f"{REFUSED_PREFIX}{exc.message}"
            _run_close(run=run, status=RunStatus.FAILED, message=message)
            logger.info("run %s: media %s refused: %s", run.pk, run.media_id, exc.message)
            return _run_get(run_id)
        except FileNotFoundError:
            _run_close(run=run, status=RunStatus.FAILED, message="The stored file is missing.")
            logger.warning("run %s: the stored file of media %s is missing", run.pk, run.media_id)
            return _run_get(run_id)
    try:
        available = discovery.models_list()
    except ml_client.InferenceError as exc:
        now = timezone.now()
        waited = (now - run.created_at).total_seconds()
        if waited < settings.ANALYSIS_DISCOVERY_TIMEOUT_SECONDS:
            # Fresh `updated_at` tells the reaper this run's dispatch is alive.
            AnalysisRun.objects.filter(pk=run.pk).update(updated_at=now)
            raise InferenceUnavailable(exc.message) from exc
        _run_close(
            run=run,
            status=RunStatus.FAILED,
            message=(
                f"The inference server could not be reached for {waited / 60:.0f} minute(s): "
                f"{exc.message}"
            ),
        )
        return _run_get(run_id)

    try:
        selected = _models_select(
            media=run.media, available=available, requested=run.requested_models or None
        )
    except ValidationFailed as exc:
        _run_close(run=run, status=RunStatus.FAILED, message=exc.message)
        return _run_get(run_id)

    with transaction.atomic():
        locked = AnalysisRun.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None:
            raise NotFound("Run not found.")
        if locked.status not in RunStatus.active() or locked.analyses.exists():
            return locked
        if selected:
            _analyses_create(run=locked, media=run.media, models=available, model_names=selected)
        else:
            _run_close(run=locked, status=RunStatus.FAILED, message=_no_model_message(run.media))
    logger.info("run %s dispatched to %s", run.pk, ", ".join(selected) or "no model")
    return _run_get(run_id)


# --- One model ------------------------------------------------------------------------------------


def _max_attempts() -> int:
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
    if analysis.attempts > _max_attempts():
        # Only a redelivered message gets here (retries stop at the budget): the last attempt's
        # worker died without an answer. A file that kills workers must not loop forever.
        return _analysis_finish_failed(
            analysis,
            message=(
                f"Gave up after {_max_attempts()} attempts; the last one stopped without an "
                "answer (its worker was lost)."
            ),
            details={"kind": "worker_lost"},
        )

    run = analysis.run
    _run_mark_processing(run)
    # Not waited for: the model need not wait on Redis. The final event, which is, follows it.
    _analysis_event(
        analysis,
        ProgressEvent.ANALYSIS_STARTED,
        wait=False,
        status=AnalysisStatus.PROCESSING,
        attempt=analysis.attempts,
    )
    try:
        result = ml_client.media_analyze(media=run.media, model_name=analysis.model_name)
    except ml_client.InferenceError as exc:
        if exc.transient and analysis.attempts < _max_attempts():
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
        Media.objects.filter(pk=run.media_id, latest_run_id=run.pk).update(
            status=RunStatus.PROCESSING, updated_at=now
        )


def _analysis_event(
    analysis: DeepfakeAnalysis, event: ProgressEvent, *, wait: bool = True, **data: Any
) -> None:
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
    _analysis_event(
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
    _analysis_event(
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


# --- Finishing a run ------------------------------------------------------------------------------


def _run_close(
    *,
    run: AnalysisRun,
    status: RunStatus,
    message: str = "",
    verdict: str | None = None,
    fake_score: float | None = None,
    agreement: float | None = None,
    verdict_reason: str = "",
    verdict_details: dict[str, Any] | None = None,
) -> bool:
    """Move an active run to a final status, once: a conditional UPDATE from an active status.

    The media follows when this run is its latest one. Returns whether this call did it (and then
    `run` holds the new values); only that call announces RUN_COMPLETED, after commit.
    """
    now = timezone.now()
    fields = {
        "status": status,
        "verdict": verdict,
        "fake_score": fake_score,
        "agreement": agreement,
        "verdict_reason": verdict_reason,
        "verdict_details": verdict_details or {},
        "error_message": message,
        "finished_at": now,
        "updated_at": now,
    }
    with transaction.atomic():
        closed = AnalysisRun.objects.filter(pk=run.pk, status__in=RunStatus.active()).update(
            **fields
        )
        if closed:
            Media.objects.filter(latest_run_id=run.pk).update(status=status, updated_at=now)
            _after_commit(_run_completed_publish, run_id=run.pk, media_id=run.media_id)
            _after_commit(webhooks_run_completed_enqueue, run_id=run.pk)
            _run_finished_audit(run=run, status=status, verdict=verdict, fake_score=fake_score)
    if closed:
        for name, value in fields.items():
            setattr(run, name, value)
    return bool(closed)


def _run_finished_audit(
    *, run: AnalysisRun, status: RunStatus, verdict: str | None, fake_score: float | None
) -> None:
    """RUN_FINISHED in the owner's trail, by the platform: whoever started the run, it is the
    pipeline that finishes it. The media is read unless the caller's run already holds it."""
    if AnalysisRun.media.is_cached(run):
        owner_and_name = (run.media.owner_id, run.media.original_filename)
    else:
        media = Media.objects.filter(pk=run.media_id)
        owner_and_name = media.values_list("owner_id", "original_filename").first()
    if owner_and_name is None:
        return
    owner_id, filename = owner_and_name
    audit_record(
        action=AuditAction.RUN_FINISHED,
        owner_id=owner_id,
        target=run,
        target_label=_run_label(filename=filename, run=run),
        details={
            "media_id": str(run.media_id),
            "status": status,
            "verdict": verdict,
            "fake_score": fake_score,
        },
    )


def _run_completed_publish(*, run_id: uuid.UUID, media_id: uuid.UUID) -> None:
    media = media_get_with_latest_run(media_id=media_id)
    if media is None:
        return
    finished = media.latest_run if media.latest_run_id == run_id else _run_get(run_id)
    event_publish(
        event=ProgressEvent.RUN_COMPLETED,
        user_id=media.owner_id,
        media_id=media.pk,
        run_id=run_id,
        data={
            "status": finished.status,
            "verdict": {
                "verdict": finished.verdict,
                "label": finished.get_verdict_display() if finished.verdict else "",
                "fakeScore": finished.fake_score,
                "agreement": finished.agreement,
            },
            "errorMessage": finished.error_message,
            "media": media_to_dict(media=media),
        },
    )


def _failures_summary(analyses: list[DeepfakeAnalysis]) -> str:
    failed = [a for a in analyses if a.status == AnalysisStatus.FAILED]
    if not failed:
        return ""
    reasons = "; ".join(f"{a.model_name}: {a.error_message or 'failed'}" for a in failed)
    if len(failed) == len(analyses):
        return f"Every model failed. {reasons}"
    return f"{len(failed)} of {len(analyses)} models failed. {reasons}"


def _analyses_for_verdict(run_id: uuid.UUID | str) -> list[DeepfakeAnalysis]:
    """The run's analyses with their run, in one query. The payloads (per-frame scores, up to
    megabytes per model) play no part in the verdict and are left in the database."""
    return list(
        DeepfakeAnalysis.objects.filter(run_id=run_id)
        .select_related("run")
        .defer("result_payload", "error_details")
    )


def run_finalize(*, run_id: uuid.UUID | str) -> AnalysisRun:
    """Settle a run whose analyses are all final: status, verdict, agreement, finished_at.

    ANALYZED when every analysis answered (completed, or abstained: "no evidence" is an answer),
    PARTIALLY_ANALYZED when some did, FAILED when none did. Only completed analyses count in the
    verdict, so a run whose models all abstained has no fake score. Idempotent: a run already
    final is returned unchanged. A run with analyses still open (a task lost with its worker,
    say) is left as it is: the reaper re-sends or fails those and finalizes the run, so it is
    neither closed early nor left open forever.
    """
    analyses = _analyses_for_verdict(run_id)
    if not analyses:
        # A run without analyses is final already (FAILED at start), waiting for its dispatch,
        # or gone.
        return _run_get(run_id)
    return _run_settle(run=analyses[0].run, analyses=analyses)


def _run_settle(*, run: AnalysisRun, analyses: list[DeepfakeAnalysis]) -> AnalysisRun:
    if run.status not in RunStatus.active():
        return run
    if any(a.status in OPEN_ANALYSIS_STATUSES for a in analyses):
        logger.info("run %s not finalized yet: analyses still open", run.pk)
        return run
    answered = sum(1 for a in analyses if a.status in ANSWERED_ANALYSIS_STATUSES)
    if answered == len(analyses):
        status = RunStatus.ANALYZED
    elif answered:
        status = RunStatus.PARTIALLY_ANALYZED
    else:
        status = RunStatus.FAILED
    summary = verdict_compute(analyses=analyses)
    if _run_close(
        run=run,
        status=status,
        message=_failures_summary(analyses),
        verdict=summary.verdict,
        fake_score=summary.fake_score,
        agreement=summary.agreement,
        verdict_reason=summary.reason,
        verdict_details=summary.details(),
    ):
        logger.info("run %s finalized: %s, verdict %s", run.pk, status, summary.verdict)
    else:
        run.refresh_from_db()
    return run


def run_finalize_if_settled(
    *, run_id: uuid.UUID | str, analysis_id: uuid.UUID | str, run_analyses: int | None = None
) -> AnalysisRun | None:
    """After `analysis_id` is final and its final event sent: finalize the run if that makes every
    analysis of the run so; None if some are still open or still sending.

    Each analysis task calls this, so the last model to finish settles the run and announces
    RUN_COMPLETED at once, rather than a broker round trip later in the chord callback (which
    then finds the run final and changes nothing). Every task stores its result and sends its
    event before it looks, so whichever looks last sees them all: at least one task finalizes
    the run, `run_finalize` makes it exactly one, and RUN_COMPLETED comes after every model's
    event. Analyses ended otherwise (timed out by the reaper) are never counted here; their runs
    are settled by the chord callback or the reaper, as are runs whose count Redis lost.

    `run_analyses`, the run's number of analyses when the caller knows it (a run's analyses are
    created together and never added to), saves the tasks that are not last reading them.
    """
    sent = run_final_event_sent(run_id=run_id, analysis_id=analysis_id)
    if run_analyses is not None and sent < run_analyses:
        return None
    analyses = _analyses_for_verdict(run_id)
    if (
        not analyses
        or sent < len(analyses)
        or any(a.status in OPEN_ANALYSIS_STATUSES for a in analyses)
    ):
        return None
    return _run_settle(run=analyses[0].run, analyses=analyses)


# --- The reaper -----------------------------------------------------------------------------------


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
            or analysis.attempts >= _max_attempts()
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
            _after_commit(
                _analysis_event,
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
        _after_commit(_analysis_resend, analysis_id=analysis.pk, task_id=analysis.task_id)
        return "redispatched", analysis


def _analysis_resend(*, analysis_id: uuid.UUID, task_id: str) -> None:
    from media_analysis.tasks import analyze_with_model

    # Outside the run's chord: the task finalizes the run itself when it is the last one open.
    analyze_with_model.apply_async(kwargs={"analysis_id": str(analysis_id)}, task_id=task_id)


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
            _dispatch_enqueue(run_id=run_id)
            result.dispatch_resent.append(str(run_id))

    if any(result.as_dict().values()):
        logger.warning("reaper sweep: %s", result.as_dict())
    return result
