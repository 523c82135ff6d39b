"""Redis (broker, results, cache, channel layer, leases) restarts mid-run.

The test runs its own `redis-server` on a free loopback port, never the shared one, with
`--save '' --appendonly yes` in a temporary directory: no RDB snapshots, but an append-only file
that a graceful shutdown (SIGTERM) flushes, so queued messages, chord counters and leases survive
the restart as they would on a production Redis with AOF on. (A Redis without persistence would
lose the queued messages instead; the reaper re-sends those too, see test_pipeline_reaper.)

Everything the pipeline reaches Redis for points at it: REDIS_URL, CELERY_BROKER_URL,
CELERY_RESULT_BACKEND, CACHES, CHANNEL_LAYERS and ML_PROGRESS_REDIS_URL in this process (whose
Celery app is re-pointed too) and REDIS_URL in the real `celery worker` subprocess. While analyses
are in flight Redis is stopped with SIGTERM, left down for DOWN_SECONDS and started again on the
same port and directory. The reaper sweeps as beat would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from drishtiksha.celery import app as celery_app
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from tests.fixtures.pipeline import running_worker, stored_media, wait_for
from tests.reliability.reliability_support import assert_settled_once, reap_until_final

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 3
DOWN_SECONDS = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DedicatedRedis:
    """A `redis-server` of this test's own, restartable on the same port and data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "yes",
                "--dir", str(self.directory),
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self._answers, timeout=10)

    def stop(self) -> None:
        """Graceful shutdown, as a service manager does: the append-only file is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def _celery_use(url: str) -> None:
    """Point this process's Celery app (producer pool and result backend) at `url`."""
    celery_app.conf.broker_url = url
    celery_app.conf.result_backend = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app._backend_cache = None
    if hasattr(celery_app._local, "backend"):
        del celery_app._local.backend


def _forget_result_subscriptions() -> None:
    """Chord results this process enqueued subscribe to their result keys and unsubscribe when
    garbage-collected, retrying for 20 s against a Redis that is gone by then. Drop those
    subscriptions (and the pubsub connection) while the dedicated Redis still answers."""
    consumer = getattr(celery_app.backend, "result_consumer", None)
    if consumer is None:
        return
    consumer.subscribed_to.clear()
    consumer._pending_unsubscribe.clear()
    consumer.stop()


@pytest.fixture
def dedicated_redis(tmp_path, fast_pipeline, monkeypatch) -> Iterator[DedicatedRedis]:
    server = DedicatedRedis(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "ML_PROGRESS_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    previous = (celery_app.conf.broker_url, celery_app.conf.result_backend)
    settings = fast_pipeline
    names = (
        "REDIS_URL",
        "ML_PROGRESS_REDIS_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "CACHES",
        "CHANNEL_LAYERS",
    )
    originals = {name: getattr(settings, name) for name in names}
    settings.REDIS_URL = server.url
    settings.ML_PROGRESS_REDIS_URL = server.url
    settings.CELERY_BROKER_URL = server.url
    settings.CELERY_RESULT_BACKEND = server.url
    settings.CACHES = {"default": {**originals["CACHES"]["default"], "LOCATION": server.url}}
    layer = originals["CHANNEL_LAYERS"]["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [server.url]}}
    }
    _celery_use(server.url)
    try:
        yield server
    finally:
        _forget_result_subscriptions()
        _celery_use(previous[0])
        celery_app.conf.result_backend = previous[1]
        # Back to the shared Redis before this one goes, so that later fixture teardowns (the
        # fast pipeline's cache cleanup) do not reach for a server that is gone.
        for name, value in originals.items():
            setattr(settings, name, value)
        server.stop()


def test_runs_end_final_once_when_redis_restarts_mid_run(
    fake_inference, dedicated_redis, worker_process
):
    for model in fake_inference.models:
        model.delay = 1.0
    worker = worker_process(concurrency=6, name="redis-restart")
    model_names = [m.name for m in fake_inference.models]
    run_ids = [run_start(media=stored_media()).pk for _ in range(RUNS)]
    # Work in every state: some analyses waiting on the inference server, others still queued.
    wait_for(lambda: len(fake_inference.analyze_requests()) >= 3, timeout=60)
    assert DeepfakeAnalysis.objects.filter(
        run_id__in=run_ids, status__in=(AnalysisStatus.PENDING, AnalysisStatus.PROCESSING)
    ).exists()

    dedicated_redis.stop()
    time.sleep(DOWN_SECONDS)  # the outage itself
    # What the restarted server loads: the append-only file written before the shutdown.
    assert any(path.stat().st_size for path in dedicated_redis.directory.rglob("*.aof*"))
    dedicated_redis.start()

    reap_until_final(run_ids, timeout=90)
    assert_settled_once(run_ids, model_names=model_names)
    assert worker.poll() is None, "the worker died instead of reconnecting to Redis"

    # The same worker, reconnected to the broker, still does a whole run from start to finish.
    after = run_start(media=stored_media())
    done = wait_for(
        lambda: AnalysisRun.objects.filter(pk=after.pk, status__in=RunStatus.final()).first(),
        timeout=60,
    )
    assert done.status == RunStatus.ANALYZED
    assert_settled_once([after.pk], model_names=model_names)


def test_a_run_started_while_the_broker_is_unreachable_is_kept_and_sent_later(
    fake_inference, settings
):
    """The rows commit before the chord is sent; when sending fails (here: Celery's broker URL
    points at a port nobody listens on, while the cache and result backend stay up) the run must
    still be created, and the reaper sends its analyses once a worker can receive them — at its
    next sweep, not after the hour a PENDING analysis may otherwise wait in a long queue.

    Before the fix in `pipeline.common.after_commit` this raised AttributeError out of run_start
    (Django could not name the failed robust on_commit callback, a functools.partial)."""
    settings.ANALYSIS_QUEUED_TIMEOUT_SECONDS = 3600
    broker_url = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{_free_port()}/0"
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        run = run_start(media=stored_media())
    finally:
        celery_app.conf.broker_url = broker_url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    assert run.status == RunStatus.QUEUED
    assert set(run.analyses.values_list("status", flat=True)) == {AnalysisStatus.PENDING}
    assert fake_inference.analyze_requests() == []
    with running_worker():
        (done,) = reap_until_final([run.pk], timeout=30)
    assert done.status == RunStatus.ANALYZED
    assert_settled_once([run.pk], model_names=[m.name for m in fake_inference.models])
