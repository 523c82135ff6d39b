"""What every stage of the run lifecycle shares: analysis status groups, the pipeline's errors,
the run-status rule, and the after-commit helper. Imports nothing else of the pipeline."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Case, CharField, Expression, F, Value, When
from django.db.models.lookups import Exact, GreaterThan

from drishtiksha.errors import Conflict, NotFound, ServiceUnavailable
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun

OPEN_ANALYSIS_STATUSES = (AnalysisStatus.PENDING, AnalysisStatus.PROCESSING)
# Final and not failed: the model gave an answer, a prediction or "no evidence".
ANSWERED_ANALYSIS_STATUSES = (AnalysisStatus.COMPLETED, AnalysisStatus.ABSTAINED)


class RunInProgress(Conflict):
    default_message = "An analysis of this media is already queued or running."


class InferenceUnavailable(ServiceUnavailable):
    default_message = "The inference server cannot be reached right now."


# --- The run-status rule --------------------------------------------------------------------------


class _Answered(enum.Enum):
    """How many of a settled run's analyses answered (completed, or abstained: "no evidence" is
    an answer)."""

    EVERY = "every"
    SOME = "some"


# The rule, written once: the status of a run whose analyses are all final is that of the first
# line that holds for its counts, else RUN_STATUS_NONE_ANSWERED. `run_status_from_counts` reads
# it in Python (`run_finalize`), `run_status_expression` in SQL (the consistency check).
RUN_STATUS_RULE: tuple[tuple[_Answered, RunStatus], ...] = (
    (_Answered.EVERY, RunStatus.ANALYZED),
    (_Answered.SOME, RunStatus.PARTIALLY_ANALYZED),
)
RUN_STATUS_NONE_ANSWERED = RunStatus.FAILED


def run_status_from_counts(*, total: int, answered: int) -> RunStatus:
    """The status `run_finalize` gives a run of `total` final analyses, `answered` of them
    answered."""
    holds = {_Answered.EVERY: answered == total, _Answered.SOME: answered > 0}
    return next(
        (status for test, status in RUN_STATUS_RULE if holds[test]), RUN_STATUS_NONE_ANSWERED
    )


def run_status_expression(
    *, total: str = "analyses_count", answered: str = "answered_count"
) -> Case:
    """`run_status_from_counts` as SQL, over the annotations named `total` and `answered` (a
    run's analyses, and those of them in ANSWERED_ANALYSIS_STATUSES)."""
    holds: dict[_Answered, Expression] = {
        _Answered.EVERY: Exact(F(answered), F(total)),
        _Answered.SOME: GreaterThan(F(answered), 0),
    }
    return Case(
        *(When(holds[test], then=Value(status)) for test, status in RUN_STATUS_RULE),
        default=Value(RUN_STATUS_NONE_ANSWERED),
        output_field=CharField(),
    )


# --- Shared helpers -------------------------------------------------------------------------------


def after_commit(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Call `func(*args, **kwargs)` once the current transaction commits; if it raises (the broker
    is unreachable, say), log it and carry on: the rows are committed and the reaper catches up.

    Not `on_commit(partial(...), robust=True)`: Django logs a failed robust callback by its
    `__qualname__`, which a partial lacks, so the failure surfaced as an AttributeError instead.
    """

    def callback() -> None:
        func(*args, **kwargs)

    callback.__qualname__ = func.__qualname__
    transaction.on_commit(callback, robust=True)


def run_get(run_id: uuid.UUID | str) -> AnalysisRun:
    """The run with its media; `NotFound` when it is gone (deleted with its media)."""
    run = AnalysisRun.objects.select_related("media").filter(pk=run_id).first()
    if run is None:
        raise NotFound("Run not found.")
    return run


def run_label(*, filename: str, run: AnalysisRun) -> str:
    """How the audit trail names a run."""
    return f"{filename} run #{run.run_number}"
