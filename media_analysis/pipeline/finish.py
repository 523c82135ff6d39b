"""Finishing a run: settle it from its analyses exactly once, announce it, and repair statuses.

- `run_finalize` settles a run whose analyses are all final (status by the run-status rule,
  verdict); `run_finalize_if_settled` lets the last analysis task do it at once.
- `run_close` moves an active run to its final status, once, and is where RUN_COMPLETED, the
  RUN_FINISHED audit row and the `run_finished` signal (webhooks) come from.
- `run_resettle` and `media_status_realign` repair a run or a media item whose status
  disagrees with its analyses (the operator's "fix statuses").
- `media_status_set` is the only writer of `Media.status`: a media item mirrors its latest run.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from drishtiksha.errors import NotFound
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.events import ProgressEvent, event_publish, run_final_event_sent
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.pipeline.common import (
    ANSWERED_ANALYSIS_STATUSES,
    OPEN_ANALYSIS_STATUSES,
    after_commit,
    run_get,
    run_label,
    run_status_from_counts,
)
from media_analysis.presenters import media_to_dict
from media_analysis.selectors import media_get_with_latest_run
from media_analysis.signals import run_finished
from media_analysis.verdict import verdict_compute

logger = logging.getLogger(__name__)


def media_status_set(
    *,
    run_id: uuid.UUID,
    status: RunStatus,
    at: datetime,
    media_id: uuid.UUID | None = None,
) -> bool:
    """Write `Media.status`, the one place that does: a media item shows its latest run's status.

    With `media_id`, run `run_id` becomes that media's latest run (it has just started). Without
    it, only the media whose latest run is still `run_id` follows: an older run finishing late
    never overwrites a newer one's status. Returns whether a media row changed.
    """
    if media_id is not None:
        media = Media.objects.filter(pk=media_id)
        return bool(media.update(latest_run_id=run_id, status=status, updated_at=at))
    return bool(Media.objects.filter(latest_run_id=run_id).update(status=status, updated_at=at))


# --- Closing a run --------------------------------------------------------------------------------


def run_close(
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
    `run` holds the new values); only that call announces RUN_COMPLETED and sends `run_finished`,
    after commit.
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
            media_status_set(run_id=run.pk, status=status, at=now)
            after_commit(_run_completed_publish, run_id=run.pk, media_id=run.media_id)
            after_commit(run_finished.send, sender=AnalysisRun, run_id=run.pk)
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
        target_label=run_label(filename=filename, run=run),
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
    finished = media.latest_run if media.latest_run_id == run_id else run_get(run_id)
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


# --- Settling a run from its analyses -------------------------------------------------------------


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
    PARTIALLY_ANALYZED when some did, FAILED when none did (the run-status rule). Only completed
    analyses count in the verdict, so a run whose models all abstained has no fake score.
    Idempotent: a run already final is returned unchanged. A run with analyses still open (a
    task lost with its worker, say) is left as it is: the reaper re-sends or fails those and
    finalizes the run, so it is neither closed early nor left open forever.
    """
    analyses = _analyses_for_verdict(run_id)
    if not analyses:
        # A run without analyses is final already (FAILED at start), waiting for its dispatch,
        # or gone.
        return run_get(run_id)
    return _run_settle(run=analyses[0].run, analyses=analyses)


def _run_settle(*, run: AnalysisRun, analyses: list[DeepfakeAnalysis]) -> AnalysisRun:
    if run.status not in RunStatus.active():
        return run
    if any(a.status in OPEN_ANALYSIS_STATUSES for a in analyses):
        logger.info("run %s not finalized yet: analyses still open", run.pk)
        return run
    status = run_status_from_counts(
        total=len(analyses),
        answered=sum(1 for a in analyses if a.status in ANSWERED_ANALYSIS_STATUSES),
    )
    summary = verdict_compute(analyses=analyses)
    if run_close(
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


# --- Repairing statuses ---------------------------------------------------------------------------


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
        media_status_set(run_id=run.pk, status=RunStatus.PROCESSING, at=now)
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
        now = timezone.now()
        media_status_set(run_id=media.latest_run_id, status=media.latest_run.status, at=now)
        media.status, media.updated_at = media.latest_run.status, now
    return media
