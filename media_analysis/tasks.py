"""Celery tasks of the analysis pipeline: thin interfaces that pass ids to the pipeline.

Each task is named `media_analysis.<the service it runs>` (the names live in `task_names`, where
the services find them to enqueue). Queues: `media_analysis.analysis_execute` runs on `analysis`,
everything else on `housekeeping` (see CELERY_TASK_ROUTES), so that housekeeping can be given
workers that never wait behind minutes-long inference.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from drishtiksha.errors import NotFound
from drishtiksha.retry import backoff_delay
from media_analysis import task_names
from media_analysis.models import Media
from media_analysis.pipeline.common import InferenceUnavailable
from media_analysis.pipeline.dispatch import run_dispatch
from media_analysis.pipeline.execute import (
    AnalysisOutcome,
    Outcome,
    analysis_execute,
    analysis_fail,
)
from media_analysis.pipeline.finish import run_finalize, run_finalize_if_settled
from media_analysis.pipeline.reaper import runs_reap
from media_analysis.robustness import robustness_copy_make
from media_analysis.services.links import link_import_fetch

logger = logging.getLogger(__name__)

# The analysis is final and its final event sent (or, redelivered, was already final). Not GONE:
# the row was deleted, or taken over by a task that will look for itself once it is done.
_FINAL_OUTCOMES = frozenset(
    {Outcome.COMPLETED, Outcome.ABSTAINED, Outcome.FAILED, Outcome.ALREADY_FINAL}
)


@shared_task(
    bind=True,
    name=task_names.ANALYSIS_EXECUTE,
    # Acknowledged only once done, and handed to another worker if this one dies mid-analysis;
    # the analysis lease keeps the redelivered copy from running next to a live one.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.ANALYSIS_TASK_TIME_LIMIT_SECONDS,
    # Attempts are counted on the analysis row (they survive redelivery); see the service.
    max_retries=None,
)
def analysis_execute_task(self: Task, *, analysis_id: str) -> str:
    """Run one model on one media item; the last of a run's models to finish finalizes the run.

    Never fails: whatever happens ends as a stored result or a stored error, so that the run's
    chord callback always runs. That callback stays the guarantee that the run is settled (and
    the reaper the guarantee behind it), also when finalizing here fails.
    """
    outcome = _execute(self, analysis_id)
    if outcome.outcome == Outcome.RETRY and outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    if outcome.outcome in _FINAL_OUTCOMES and outcome.run_id is not None:
        try:
            run_finalize_if_settled(
                run_id=outcome.run_id,
                analysis_id=analysis_id,
                run_analyses=outcome.run_analyses,
            )
        except NotFound:
            pass  # the media was deleted with its runs
        except Exception:  # noqa: BLE001 - the chord callback or the reaper finalizes the run
            logger.exception("could not finalize run %s", outcome.run_id)
    return str(outcome.outcome)


def _execute(task: Task, analysis_id: str) -> AnalysisOutcome:
    try:
        return analysis_execute(analysis_id=analysis_id, task_id=task.request.id)
    except SoftTimeLimitExceeded:
        return _fail(
            analysis_id,
            message=(
                "The analysis took longer than "
                f"{settings.ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS} seconds and was stopped."
            ),
            details={"kind": "timeout"},
        )
    except Exception as exc:  # noqa: BLE001 - the chord callback must run whatever happens
        logger.exception("analysis %s: unexpected error", analysis_id)
        if task.request.retries < settings.ANALYSIS_MAX_RETRIES:
            delay = backoff_delay(
                attempt=task.request.retries + 1,
                base=settings.ANALYSIS_RETRY_BACKOFF_SECONDS,
                cap=settings.ANALYSIS_RETRY_BACKOFF_MAX_SECONDS,
            )
            return AnalysisOutcome(Outcome.RETRY, retry_in=delay)
        return _fail(
            analysis_id,
            message="An internal error stopped this analysis.",
            details={"kind": "internal", "exception": type(exc).__name__},
        )


def _fail(analysis_id: str, *, message: str, details: dict) -> AnalysisOutcome:
    try:
        return analysis_fail(analysis_id=analysis_id, message=message, details=details)
    except Exception:  # noqa: BLE001 - nothing left to record with; the reaper will see it
        logger.exception("analysis %s: could not record the failure", analysis_id)
        return AnalysisOutcome(Outcome.FAILED)


@shared_task(
    name=task_names.RUN_FINALIZE,
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def run_finalize_task(*, run_id: str) -> str | None:
    """The chord callback of a run: settle its status and verdict."""
    try:
        return run_finalize(run_id=run_id).status
    except NotFound:
        logger.info("run %s was deleted before it was finalized", run_id)
        return None


@shared_task(
    bind=True,
    name=task_names.RUN_DISPATCH,
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
    # Bounded by ANALYSIS_DISCOVERY_TIMEOUT_SECONDS in the service, not by a retry count.
    max_retries=None,
)
def run_dispatch_task(self: Task, *, run_id: str) -> str | None:
    """Create a run's analyses once the inference server says which models it has."""
    try:
        return run_dispatch(run_id=run_id).status
    except InferenceUnavailable:
        raise self.retry(
            countdown=backoff_delay(
                attempt=self.request.retries + 1,
                base=settings.ANALYSIS_DISCOVERY_BACKOFF_SECONDS,
                cap=settings.ANALYSIS_DISCOVERY_BACKOFF_MAX_SECONDS,
            )
        ) from None
    except NotFound:
        logger.info("run %s was deleted before it was dispatched", run_id)
        return None


@shared_task(
    name=task_names.RUNS_REAP,
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def runs_reap_task() -> dict[str, list[str]]:
    """Beat, every ANALYSIS_REAPER_INTERVAL_SECONDS. Cost: one query for stale analyses, one
    lease check per stale analysis, one query for runs to settle and one for undispatched runs."""
    return runs_reap().as_dict()


@shared_task(
    name=task_names.ROBUSTNESS_COPY_MAKE,
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def robustness_copy_make_task(*, media_id: str) -> str | None:
    """Re-encode an upload whose owner asked for the robustness check, and analyse the copy."""
    media = Media.objects.select_related("owner", "latest_run").filter(pk=media_id).first()
    if media is None:
        logger.info("media %s was deleted before its robustness copy was made", media_id)
        return None
    return str(robustness_copy_make(media=media).pk)


@shared_task(
    name=task_names.LINK_IMPORT_FETCH,
    soft_time_limit=settings.LINK_FETCH_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.LINK_FETCH_TASK_TIME_LIMIT_SECONDS,
)
def link_import_fetch_task(*, link_import_id: str) -> str | None:
    """Download a submitted link and ingest it as an upload. Cost: one download of at most
    MAX_UPLOAD_SIZE bytes, then the upload's checks (a read of the file and its hash)."""
    link_import = link_import_fetch(link_import_id=link_import_id)
    return link_import.status if link_import is not None else None
