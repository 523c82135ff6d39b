"""Shared checks for the reliability suite: settle runs like beat would, and assert the end state
every failure scenario must reach."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.leases import lease_key
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.reaper import runs_reap
from media_analysis.redis_connection import redis_client
from tests.fixtures.pipeline import (
    FAST_PIPELINE_ENV,
    _test_database_url,
    celery_worker_command,
    wait_for,
)

FINAL_RUN_STATUSES = {RunStatus.ANALYZED, RunStatus.PARTIALLY_ANALYZED, RunStatus.FAILED}
OPEN_ANALYSIS_STATUSES = {AnalysisStatus.PENDING, AnalysisStatus.PROCESSING}


def reap_until_final(run_ids: Iterable, *, timeout: float = 60.0) -> list[AnalysisRun]:
    """Sweep with the reaper (as beat does every ANALYSIS_REAPER_INTERVAL_SECONDS, only faster)
    until every run is final; fails the test if one is not within `timeout`."""
    run_ids = list(run_ids)

    def settled() -> list[AnalysisRun] | None:
        # A test that cut the database connections must not trip over its own dead one.
        close_old_connections()
        runs_reap()
        runs = list(AnalysisRun.objects.filter(pk__in=run_ids))
        return runs if all(run.status in FINAL_RUN_STATUSES for run in runs) else None

    try:
        return wait_for(settled, timeout=timeout, interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still open:\n{_open_state(run_ids)}") from None


def _open_state(run_ids: list) -> str:
    """What a run that did not settle is waiting for: each analysis and whether a lease holds it."""
    lines = []
    for run in AnalysisRun.objects.filter(pk__in=run_ids).exclude(status__in=FINAL_RUN_STATUSES):
        lines.append(f"run {run.pk} {run.status}")
        for analysis in run.analyses.order_by("model_name"):
            held = redis_client().get(lease_key(analysis.pk))
            lines.append(
                f"  {analysis.model_name} {analysis.status} attempts={analysis.attempts}"
                f" updated={analysis.updated_at:%H:%M:%S.%f} task={analysis.task_id}"
                f" lease={held.decode() if held else None}"
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, wait_event_type, wait_event, xact_start, left(query, 120)"
                " FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
            lines += [f"  backend {row}" for row in cursor.fetchall()]
    return "\n".join(lines)


def assert_settled_once(run_ids: Iterable, *, model_names: Iterable[str]) -> None:
    """Every run final, exactly one analysis row per (run, model), none left open, and the media
    following its latest run."""
    run_ids = list(run_ids)
    expected = sorted(model_names)
    close_old_connections()
    runs = list(AnalysisRun.objects.select_related("media").filter(pk__in=run_ids))
    assert len(runs) == len(run_ids)
    for run in runs:
        assert run.status in FINAL_RUN_STATUSES, (run.pk, run.status)
        assert run.finished_at is not None
        names = sorted(
            DeepfakeAnalysis.objects.filter(run=run).values_list("model_name", flat=True)
        )
        assert names == expected, f"run {run.pk} has analyses {names}, expected one per model"
        assert run.media.status == run.status
    assert not DeepfakeAnalysis.objects.filter(
        run_id__in=run_ids, status__in=OPEN_ANALYSIS_STATUSES
    ).exists()
    assert not AnalysisRun.objects.filter(pk__in=run_ids, status__in=RunStatus.active()).exists()


def worker_env(settings_: Any, **overrides: str) -> dict[str, str]:
    """The environment the `worker_process` fixture gives its workers, plus `overrides`."""
    return {
        **FAST_PIPELINE_ENV,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings_.REDIS_URL,
        "ML_SERVER_URL": settings_.ML_SERVER_URL,
        "ML_SERVER_API_KEY": settings_.ML_SERVER_API_KEY,
        "MEDIA_ROOT": str(settings_.MEDIA_ROOT),
        "DB_CONN_MAX_AGE": "0",
        **overrides,
    }


@contextmanager
def worker_subprocess(
    *, env: dict[str, str], concurrency: int = 6, name: str = "reliability"
) -> Iterator[subprocess.Popen]:
    """A real `celery worker` (prefork) like the `worker_process` fixture's, but with `env`
    applied last (see `worker_env`) and without purging the queues first, for scenarios that need
    what the fixture pins or drops: persistent database connections, or the messages a killed
    worker left queued. Killed with its whole process group on exit."""
    process = subprocess.Popen(
        celery_worker_command(concurrency=concurrency, name=name),
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
