"""The pipeline's two status rules, each written once: what status a settled run gets (read in
Python by `run_finalize`, in SQL by the consistency check), and who writes `Media.status`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.db.models import Count, Q

from media_analysis.choices import AnalysisStatus, Prediction, RunStatus
from media_analysis.models import AnalysisRun, Media
from media_analysis.pipeline.common import (
    ANSWERED_ANALYSIS_STATUSES,
    run_status_expression,
    run_status_from_counts,
)
from media_analysis.pipeline.execute import analysis_execute
from media_analysis.pipeline.finish import (
    media_status_realign,
    media_status_set,
    run_finalize,
    run_resettle,
)
from media_analysis.pipeline.start import run_start
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory
from tests.fixtures.pipeline import stored_media

# Up to this many analyses per run: every way a run can end, with room for mixed answers.
MAX_ANALYSES = 4


def _settled_run(*, media: Media, run_number: int, total: int, answered: int) -> AnalysisRun:
    """An open run whose analyses are all final, `answered` of them answered (completed and
    abstained alternately), the rest failed."""
    run = AnalysisRunFactory(media=media, run_number=run_number, status=RunStatus.PROCESSING)
    for index in range(total):
        if index >= answered:
            DeepfakeAnalysisFactory(run=run, status=AnalysisStatus.FAILED, error_message="down")
        elif index % 2:
            DeepfakeAnalysisFactory(run=run, status=AnalysisStatus.ABSTAINED)
        else:
            DeepfakeAnalysisFactory(
                run=run, status=AnalysisStatus.COMPLETED, prediction=Prediction.FAKE, confidence=0.9
            )
    return run


@pytest.mark.django_db
def test_the_run_status_rule_reads_the_same_in_python_in_sql_and_in_run_finalize():
    media = stored_media()
    counts = {}
    for total in range(1, MAX_ANALYSES + 1):
        for answered in range(total + 1):
            run = _settled_run(
                media=media, run_number=len(counts) + 1, total=total, answered=answered
            )
            counts[run.pk] = (total, answered)

    in_sql = dict(
        AnalysisRun.objects.filter(pk__in=counts)
        .annotate(
            analyses_count=Count("analyses"),
            answered_count=Count(
                "analyses", filter=Q(analyses__status__in=ANSWERED_ANALYSIS_STATUSES)
            ),
        )
        .annotate(expected_status=run_status_expression())
        .values_list("pk", "expected_status")
    )

    for run_id, (total, answered) in counts.items():
        in_python = run_status_from_counts(total=total, answered=answered)
        assert in_sql[run_id] == in_python, (total, answered)
        assert run_finalize(run_id=run_id).status == in_python, (total, answered)
    assert set(in_sql.values()) == set(RunStatus.final())


@contextmanager
def _media_status_writes() -> Iterator[list[tuple[str, bool]]]:
    """Every UPDATE of the media table that sets `status`, as (status, whether it ran inside
    `media_status_set`), read from the SQL the connection actually sends."""
    table = Media._meta.db_table
    writer = media_status_set.__code__
    writes: list[tuple[str, bool]] = []

    def watch(execute, sql, params, many, context):  # noqa: ANN001, ANN202 - Django's hook
        if sql.startswith(f'UPDATE "{table}"') and '"status" =' in sql.split(" WHERE ")[0]:
            frame, status = sys._getframe(), None
            while frame is not None and status is None:
                if frame.f_code is writer:
                    status = frame.f_locals["status"]
                frame = frame.f_back
            writes.append((str(status), status is not None))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        yield writes


@pytest.mark.django_db(transaction=True)
def test_every_write_of_a_media_status_goes_through_media_status_set(fake_inference):
    media = stored_media()

    with _media_status_writes() as writes:
        run = run_start(media=media)
        for analysis in run.analyses.all():
            analysis_execute(analysis_id=analysis.pk, task_id=analysis.task_id)
        run_finalize(run_id=run.pk)
        run_resettle(run_id=run.pk)
    Media.objects.filter(pk=media.pk).update(status=RunStatus.FAILED)
    with _media_status_writes() as realigned:
        media_status_realign(media_id=media.pk)

    assert writes == [
        (RunStatus.QUEUED, True),  # start
        (RunStatus.PROCESSING, True),  # the first model starts
        (RunStatus.ANALYZED, True),  # close
        (RunStatus.PROCESSING, True),  # re-settle: reopened ...
        (RunStatus.ANALYZED, True),  # ... and closed again
    ]
    assert realigned == [(RunStatus.ANALYZED, True)]
    media.refresh_from_db()
    assert media.status == RunStatus.ANALYZED
