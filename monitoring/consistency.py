"""Status consistency: runs and media whose stored status disagrees with what they are made of,
and their repair.

Finding costs a fixed number of queries whatever the size of the tables; repairing goes through
the pipeline's own finishing services, so that no status is ever written another way.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass

from django.db.models import Count, F, Q

from media_analysis.choices import RunStatus
from media_analysis.models import AnalysisRun, Media
from media_analysis.pipeline.common import (
    ANSWERED_ANALYSIS_STATUSES,
    OPEN_ANALYSIS_STATUSES,
    run_status_expression,
)
from media_analysis.pipeline.finish import media_status_realign, run_resettle

logger = logging.getLogger(__name__)


class InconsistencyKind(enum.StrEnum):
    RUN_FINAL_WITH_OPEN_ANALYSES = "RUN_FINAL_WITH_OPEN_ANALYSES"
    RUN_OPEN_WITH_FINAL_ANALYSES = "RUN_OPEN_WITH_FINAL_ANALYSES"
    RUN_STATUS_MISMATCH = "RUN_STATUS_MISMATCH"
    MEDIA_STATUS_MISMATCH = "MEDIA_STATUS_MISMATCH"


INCONSISTENCY_DESCRIPTIONS = {
    InconsistencyKind.RUN_FINAL_WITH_OPEN_ANALYSES: (
        "The run is final but some of its analyses are still pending or processing."
    ),
    InconsistencyKind.RUN_OPEN_WITH_FINAL_ANALYSES: (
        "The run is still open although every one of its analyses is final."
    ),
    InconsistencyKind.RUN_STATUS_MISMATCH: (
        "The run's status does not match how many of its analyses answered or failed."
    ),
    InconsistencyKind.MEDIA_STATUS_MISMATCH: (
        "The media's status differs from the status of its latest run."
    ),
}


@dataclass(frozen=True)
class StatusInconsistency:
    kind: InconsistencyKind
    media_id: uuid.UUID
    media_filename: str
    run_id: uuid.UUID | None
    run_number: int | None
    stored_status: str
    expected_status: str

    @property
    def description(self) -> str:
        return INCONSISTENCY_DESCRIPTIONS[self.kind]


# --- Finding --------------------------------------------------------------------------------------


def run_inconsistencies_list() -> list[StatusInconsistency]:
    """Runs whose status disagrees with their analyses, in one query.

    A final run without any analysis is left out: the pipeline closes a run as FAILED without
    analyses only when no model could analyse the media, and there is nothing to recompute it from.
    """
    final, active = RunStatus.final(), RunStatus.active()
    runs = (
        AnalysisRun.objects.annotate(
            analyses_count=Count("analyses"),
            open_count=Count("analyses", filter=Q(analyses__status__in=OPEN_ANALYSIS_STATUSES)),
            answered_count=Count(
                "analyses", filter=Q(analyses__status__in=ANSWERED_ANALYSIS_STATUSES)
            ),
        )
        .annotate(
            expected_status=run_status_expression(total="analyses_count", answered="answered_count")
        )
        .filter(
            Q(status__in=final, open_count__gt=0)
            | Q(status__in=active, analyses_count__gt=0, open_count=0)
            | (
                Q(status__in=final, analyses_count__gt=0, open_count=0)
                & ~Q(status=F("expected_status"))
            )
        )
        .select_related("media")
        .only("id", "run_number", "status", "media__id", "media__original_filename")
        .order_by("created_at", "pk")
    )
    found = []
    for run in runs:
        if run.status in final and run.open_count:
            kind, expected = InconsistencyKind.RUN_FINAL_WITH_OPEN_ANALYSES, RunStatus.PROCESSING
        elif run.status in active:
            kind, expected = InconsistencyKind.RUN_OPEN_WITH_FINAL_ANALYSES, run.expected_status
        else:
            kind, expected = InconsistencyKind.RUN_STATUS_MISMATCH, run.expected_status
        found.append(
            StatusInconsistency(
                kind=kind,
                media_id=run.media.pk,
                media_filename=run.media.original_filename,
                run_id=run.pk,
                run_number=run.run_number,
                stored_status=run.status,
                expected_status=str(expected),
            )
        )
    return found


def media_inconsistencies_list() -> list[StatusInconsistency]:
    """Media whose status differs from their latest run's, in one query."""
    media = (
        Media.objects.filter(latest_run__isnull=False)
        .exclude(status=F("latest_run__status"))
        .select_related("latest_run")
        .only(
            "id",
            "original_filename",
            "status",
            "latest_run__id",
            "latest_run__run_number",
            "latest_run__status",
        )
        .order_by("created_at", "pk")
    )
    return [
        StatusInconsistency(
            kind=InconsistencyKind.MEDIA_STATUS_MISMATCH,
            media_id=item.pk,
            media_filename=item.original_filename,
            run_id=item.latest_run.pk,
            run_number=item.latest_run.run_number,
            stored_status=item.status,
            expected_status=item.latest_run.status,
        )
        for item in media
    ]


def status_inconsistencies_list() -> list[StatusInconsistency]:
    """Every run and media whose stored status disagrees with what it is made of (two queries)."""
    return [*run_inconsistencies_list(), *media_inconsistencies_list()]


# --- Repairing ------------------------------------------------------------------------------------


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
