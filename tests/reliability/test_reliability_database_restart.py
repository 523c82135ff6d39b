"""The database "restarts" under a busy worker: runs still end final, once, and the worker keeps
working.

What is simulated: the shared PostgreSQL server may not be restarted, so the test does what a
restart looks like from the clients' side. From a separate connection it terminates every other
backend of the test database (`pg_terminate_backend` on each pid in `pg_stat_activity` for
`current_database()`), repeatedly for CUT_SECONDS while analyses are in flight. Every worker
connection, idle or mid-query, dies with "terminating connection due to administrator command",
exactly the error clients see when the server shuts down. The second test adds the other half of
a restart, a window in which new connections are refused, with a relay in front of the server.

The worker is a real `celery worker` subprocess with production-like persistent connections
(DB_CONN_MAX_AGE=60, CONN_HEALTH_CHECKS on), so it must notice its broken, pooled connections
itself; the reaper sweeps as beat would.
"""

from __future__ import annotations

import socket
import time

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from tests.fixtures.pipeline import (
    _purge_pipeline_queues,
    _test_database_url,
    stored_media,
    wait_for,
)
from tests.reliability.reliability_support import (
    assert_settled_once,
    reap_until_final,
    worker_env,
    worker_subprocess,
)
from tests.reliability.tcp_outage_proxy import OutageProxy

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 3
CUT_SECONDS = 2.0
CUT_INTERVAL_SECONDS = 0.2
TERMINATE_ALL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _cut_every_connection(database_url: str) -> int:
    """Terminate every other backend of the test database, repeatedly; return how many died."""
    terminated = 0
    deadline = time.monotonic() + CUT_SECONDS
    with psycopg.connect(database_url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            terminated += admin.execute(TERMINATE_ALL).fetchone()[0]
            time.sleep(CUT_INTERVAL_SECONDS)  # a restart is a burst of cuts, not one
    return terminated


def test_runs_survive_every_database_connection_being_cut_mid_run(fake_inference, fast_pipeline):
    for model in fake_inference.models:
        model.delay = 0.7
    database_url = _test_database_url()
    _purge_pipeline_queues()
    env = worker_env(fast_pipeline, DB_CONN_MAX_AGE="60")
    model_names = [m.name for m in fake_inference.models]
    with worker_subprocess(env=env, concurrency=6, name="db-cut") as worker:
        run_ids = [run_start(media=stored_media()).pk for _ in range(RUNS)]
        wait_for(
            lambda: (
                DeepfakeAnalysis.objects.filter(
                    run_id__in=run_ids, status=AnalysisStatus.PROCESSING
                ).count()
                >= 3
            ),
            timeout=60,
        )

        terminated = _cut_every_connection(database_url)

        # The cuts hit the worker's pooled connections (and this test's own).
        assert terminated >= 2
        reap_until_final(run_ids, timeout=60)
        assert_settled_once(run_ids, model_names=model_names)
        # The cuts interrupted analyses in flight, which were tried again on fresh connections.
        attempts = DeepfakeAnalysis.objects.filter(run_id__in=run_ids).values_list(
            "attempts", flat=True
        )
        assert max(attempts) >= 2
        assert worker.poll() is None, "the worker died instead of reconnecting"

        # The same worker, on fresh connections, still does a whole run from start to finish.
        after = run_start(media=stored_media())
        done = wait_for(
            lambda: AnalysisRun.objects.filter(pk=after.pk, status__in=RunStatus.final()).first(),
            timeout=30,
        )
        assert done.status == RunStatus.ANALYZED
        assert_settled_once([after.pk], model_names=model_names)


OUTAGE_SECONDS = 3.0


def test_runs_survive_a_database_outage_that_refuses_connections_for_a_while(
    fake_inference, fast_pipeline
):
    """A restart as the worker sees it: every connection cut, then connections refused for
    OUTAGE_SECONDS, then the server answers again. The worker reaches PostgreSQL through an
    `OutageProxy`, which goes down and comes back on the same port; the shared server itself is
    never touched, and this test reads the results over its own direct connection."""
    for model in fake_inference.models:
        model.delay = 0.7
    database = settings.DATABASES["default"]
    proxy = OutageProxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)).start()
    through_proxy = _test_database_url().replace(
        f"@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/",
        f"@127.0.0.1:{proxy.port}/",
    )
    _purge_pipeline_queues()
    env = worker_env(fast_pipeline, DATABASE_URL=through_proxy, DB_CONN_MAX_AGE="60")
    model_names = [m.name for m in fake_inference.models]
    try:
        with worker_subprocess(env=env, concurrency=6, name="db-outage") as worker:
            run_ids = [run_start(media=stored_media()).pk for _ in range(RUNS)]
            wait_for(
                lambda: (
                    DeepfakeAnalysis.objects.filter(
                        run_id__in=run_ids, status=AnalysisStatus.PROCESSING
                    ).count()
                    >= 3
                ),
                timeout=60,
            )
            assert proxy.connections > 0, "the worker did not go through the proxy"
            in_flight = list(
                DeepfakeAnalysis.objects.filter(
                    run_id__in=run_ids,
                    status__in=(AnalysisStatus.PENDING, AnalysisStatus.PROCESSING),
                ).values_list("pk", flat=True)
            )
            assert in_flight, "every analysis finished before the outage: nothing was tested"
            outage_started = timezone.now()

            proxy.go_down()
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
            time.sleep(OUTAGE_SECONDS)  # the outage itself
            proxy.come_back()

            reap_until_final(run_ids, timeout=90)
            assert_settled_once(run_ids, model_names=model_names)
            assert worker.poll() is None, "the worker died instead of reconnecting"
            # Work that was in flight when the database went away was finished after it.
            finished = DeepfakeAnalysis.objects.filter(pk__in=in_flight).values_list(
                "finished_at", flat=True
            )
            assert max(finished) > outage_started

            after = run_start(media=stored_media())
            done = wait_for(
                lambda: AnalysisRun.objects.filter(
                    pk=after.pk, status__in=RunStatus.final()
                ).first(),
                timeout=30,
            )
            assert done.status == RunStatus.ANALYZED
            assert_settled_once([after.pk], model_names=model_names)
    finally:
        proxy.go_down()
