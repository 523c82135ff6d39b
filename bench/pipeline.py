"""Benchmark of the analysis pipeline against the fake inference server and a real worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/drishtiksha_bench \
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python -m bench.pipeline [--runs 30]

Use a Redis database no other worker consumes from: the bench's worker takes whatever is queued
there. It migrates the database named by DATABASE_URL (creating it when missing) and vacuums it,
starts the fake inference server in a process of its own and a `celery worker` subprocess
(prefork), then measures:

(a) zero model latency, three models per run:
    - orchestration overhead: one run at a time, from the run row's creation to its
      `finished_at` (run_start, chord, three tasks, finalize), both stamped on this machine's
      clock; with the median split into start-to-first-model, models, and last-model-to-final;
    - throughput: all runs started at once, runs per second until the last one is final, and
      where the CPU went meanwhile (the worker's processes, this process starting the runs, the
      fake server), per run.
(b) one second per model: run wall time divided by the slowest model's time, as the fake
    server measured it for that run (from receiving the `/analyze` request to sending the answer).

Overhead is a run's wall time minus its slowest model's time as the server measured it. Targets,
checked on the medians (p95 and max printed beside them): overhead under 50 ms per run, at least
20 runs/s, wall time at most 1.2x the slowest model. Each figure is printed beside its target and
a baseline from the same bench run: the overhead beside the same measure at one second per model,
the throughput beside the rate of the runs made one at a time. The worker runs
CELERY_WORKER_CONCURRENCY processes (at least one per model of a run), as `celery worker` does by
default. Should its warm shutdown outlast WORKER_STOP_SECONDS, the bench prints its processes'
stacks and kills them.
Everything the bench creates (a user, its media, runs and files) is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.support import process_tree

BASE_DIR = Path(__file__).resolve().parent.parent
OVERHEAD_TARGET_MS = 50.0
THROUGHPUT_TARGET = 20.0
# How long a warm shutdown of the worker may take before its stacks are dumped and it is killed.
WORKER_STOP_SECONDS = 60
WALL_RATIO_TARGET = 1.2
SLOW_MODEL_SECONDS = 1.0


FAST_MODELS = ["FAST-SIGLIP-V1", "FAST-COLOR-CUES-V1", "FAST-EFFICIENTNET-V1"]
SLOW_MODELS = ["SLOW-SIGLIP-V1", "SLOW-COLOR-CUES-V1", "SLOW-EFFICIENTNET-V1"]


def _serve(started_queue, questions, answers) -> None:
    """The fake inference server, in a process of its own so that it does not share this one's
    interpreter lock: three models answering at once and three taking SLOW_MODEL_SECONDS.

    Answers `questions` on `answers`: a media id -> how long each of its `/analyze` calls took
    on the server, in seconds; None -> stop.
    """
    from tests.fakes.inference_server import FakeInferenceServer, FakeModel

    votes = [("FAKE", 0.9), ("FAKE", 0.8), ("REAL", 0.6)]
    server = FakeInferenceServer(
        models=[
            FakeModel(name, video=True, prediction=prediction, confidence=confidence, delay=delay)
            for names, delay in ((FAST_MODELS, 0.0), (SLOW_MODELS, SLOW_MODEL_SECONDS))
            for name, (prediction, confidence) in zip(names, votes, strict=True)
        ]
    ).start()
    started_queue.put((server.url, server.api_key))
    while (media_id := questions.get()) is not None:
        answers.put(_server_seconds(server, media_id))
    server.stop()


def _server_seconds(server, media_id: str) -> list[float]:
    """Per `/analyze` call for `media_id`: from the request's arrival to its answer leaving."""
    sent_at = {answer.correlation_id: answer.sent_at for answer in server.analyze_answers()}
    return [
        sent_at[request.correlation_id] - request.received_at
        for request in server.analyze_requests()
        if request.media_id == media_id and request.correlation_id in sent_at
    ]


def _setup_django(media_root: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drishtiksha.settings.development")
    os.environ["MEDIA_ROOT"] = media_root
    # As in production, for this process and the worker it starts: debug mode records every
    # query, which is not what a deployment pays.
    os.environ["DJANGO_DEBUG"] = "0"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def _ensure_database() -> None:
    from django.core.management import call_command
    from django.db import connection

    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)
    # What earlier bench runs deleted stays in the tables until a vacuum, and a PostgreSQL with
    # autovacuum off (as on the machines here) never runs one: run after run the same queries
    # slowed down. Every measurement starts from compacted tables and fresh statistics.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _start_worker(env: dict[str, str], *, concurrency: int) -> subprocess.Popen:
    from drishtiksha.celery import app

    hostname = f"bench-{uuid.uuid4().hex[:8]}@localhost"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "drishtiksha",
            "--quiet",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--queues",
            "analysis,housekeeping",
            "--hostname",
            hostname,
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[hostname], timeout=0.5):
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the worker did not start")
    return process


class RunWaiter:
    """Waits for runs to finish by listening for their RUN_COMPLETED events on the owner's group,
    so that the bench does not load the machine it measures with database polling."""

    def __init__(self, user_id: uuid.UUID) -> None:
        from channels.layers import channel_layers

        from media_analysis.events import user_group_name

        self._group = user_group_name(user_id)
        self._layer = channel_layers.make_backend("default")
        self._loop = asyncio.new_event_loop()
        self._completed: set[str] = set()
        self._changed = threading.Condition()
        self._ready = threading.Event()
        threading.Thread(
            target=self._loop.run_until_complete, args=(self._listen(),), daemon=True
        ).start()
        if not self._ready.wait(10):
            raise SystemExit("could not subscribe to the progress group")

    async def _listen(self) -> None:
        channel = await self._layer.new_channel()
        await self._layer.group_add(self._group, channel)
        self._ready.set()
        while True:
            event = (await self._layer.receive(channel))["event"]
            if event["event"] == "RUN_COMPLETED":
                with self._changed:
                    self._completed.add(event["runId"])
                    self._changed.notify_all()

    def wait(self, run_ids: list) -> list:
        """The runs, once final. The database has the last word: an event may be lost."""
        from media_analysis.choices import RunStatus
        from media_analysis.models import AnalysisRun

        wanted = {str(run_id) for run_id in run_ids}
        while True:
            with self._changed:
                self._changed.wait_for(lambda: wanted <= self._completed, timeout=1.0)
            runs = list(AnalysisRun.objects.filter(pk__in=run_ids))
            if all(run.status in RunStatus.final() for run in runs):
                return runs


def _new_media(owner):
    from django.core.files.base import ContentFile

    from media_analysis.models import Media

    media_id = uuid.uuid4()
    return Media.objects.create(
        id=media_id,
        owner=owner,
        original_filename="bench.mp4",
        file=ContentFile(b"bench", name=f"videos/{media_id}.mp4"),
        mimetype="video/mp4",
        size=5,
        media_type="VIDEO",
        has_audio=False,
        sha256="0" * 64,
    )


def _stop_worker(worker: subprocess.Popen) -> None:
    """Warm shutdown; if the worker is still there after WORKER_STOP_SECONDS, print where each of
    its processes is (py-spy) and kill its process group, so that the bench always ends."""
    started = time.monotonic()
    os.kill(worker.pid, signal.SIGTERM)
    try:
        worker.wait(WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"worker still running {WORKER_STOP_SECONDS} s after SIGTERM; its stacks:")
        pids = subprocess.run(
            ["pgrep", "-g", str(worker.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        py_spy = Path(sys.executable).with_name("py-spy")
        for pid in pids:
            if py_spy.exists():
                subprocess.run([str(py_spy), "dump", "-p", pid], check=False)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    print(f"worker stopped {time.monotonic() - started:.1f} s after SIGTERM")


def _cpu_seconds(pid: int, *, with_descendants: bool = False) -> float:
    """User and system CPU a process (and, if asked, each of its descendants) has used so far."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for current in process_tree(pid) if with_descendants else [pid]:
        try:
            # The fields after the command name, which may itself hold spaces or parentheses.
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _wall_ms(run) -> float:
    return (run.finished_at - run.created_at).total_seconds() * 1000


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def _verdict(*, met: bool) -> str:
    return "met" if met else "MISSED"


def _stages_ms(run) -> tuple[float, float, float]:
    """Where a run's time went: until the first model started (run_start, chord, pick-up), while
    models ran, and from the last model's end to the run's (chord callback, finalize)."""
    analyses = list(run.analyses.all())
    first_start = min(analysis.started_at for analysis in analyses)
    last_end = max(analysis.finished_at for analysis in analyses)
    return (
        (first_start - run.created_at).total_seconds() * 1000,
        (last_end - first_start).total_seconds() * 1000,
        (run.finished_at - last_end).total_seconds() * 1000,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per zero-latency measurement")
    parser.add_argument("--slow-runs", type=int, default=5, help="runs at one second per model")
    options = parser.parse_args()

    media_root = tempfile.mkdtemp(prefix="bench-media-")
    _setup_django(media_root)
    _ensure_database()

    from django.conf import settings

    from accounts.models import User
    from media_analysis.choices import RunStatus
    from media_analysis.pipeline.start import run_start

    context = multiprocessing.get_context("spawn")
    started_queue, questions, answers = context.Queue(), context.Queue(), context.Queue()
    server = context.Process(target=_serve, args=(started_queue, questions, answers), daemon=True)
    server.start()
    url, api_key = started_queue.get(timeout=30)
    settings.ML_SERVER_URL, settings.ML_SERVER_API_KEY = url, api_key
    env = {
        **os.environ,
        "ML_SERVER_URL": url,
        "ML_SERVER_API_KEY": api_key,
        "MEDIA_ROOT": media_root,
    }
    # Fewer slots than models would queue a run's models behind one another and measure that.
    concurrency = max(settings.CELERY_WORKER_CONCURRENCY, len(SLOW_MODELS))
    worker = _start_worker(env, concurrency=concurrency)
    owner = User.objects.create_user(f"bench-{uuid.uuid4().hex[:8]}@example.com", None)
    waiter = RunWaiter(owner.pk)
    try:

        def start(models: list[str], media=None):
            return run_start(media=media or _new_media(owner), model_names=models).pk

        for _ in range(3):  # warm-up: worker processes, connections, the /stats cache
            waiter.wait([start(FAST_MODELS)])

        def slowest_model_seconds(media) -> float:
            questions.put(str(media.pk))
            model_seconds = answers.get(timeout=30)
            assert len(model_seconds) == len(FAST_MODELS), model_seconds
            return max(model_seconds)

        overheads, walls, stages = [], [], []
        for _ in range(options.runs):
            media = _new_media(owner)
            (run,) = waiter.wait([start(FAST_MODELS, media)])
            assert run.status == RunStatus.ANALYZED, run.error_message
            walls.append(_wall_ms(run))
            overheads.append(walls[-1] - slowest_model_seconds(media) * 1000)
            stages.append(_stages_ms(run))

        media_items = [_new_media(owner) for _ in range(options.runs)]
        roles = {
            "worker": lambda: _cpu_seconds(worker.pid, with_descendants=True),
            "this process (run_start)": lambda: _cpu_seconds(os.getpid()),
            "fake server": lambda: _cpu_seconds(server.pid),
        }
        cpu_before = {role: measure() for role, measure in roles.items()}
        started = time.monotonic()
        runs = waiter.wait([start(FAST_MODELS, media) for media in media_items])
        elapsed = time.monotonic() - started
        cpu_ms_per_run = {
            role: (measure() - cpu_before[role]) * 1000 / options.runs
            for role, measure in roles.items()
        }
        assert all(run.status == RunStatus.ANALYZED for run in runs)

        ratios, slowest, slow_overheads = [], [], []
        for _ in range(options.slow_runs):
            media = _new_media(owner)
            (run,) = waiter.wait([start(SLOW_MODELS, media)])
            assert run.status == RunStatus.ANALYZED, run.error_message
            questions.put(str(media.pk))
            model_seconds = answers.get(timeout=30)
            assert len(model_seconds) == len(SLOW_MODELS), model_seconds
            slowest.append(max(model_seconds))
            ratios.append(_wall_ms(run) / 1000 / slowest[-1])
            slow_overheads.append(_wall_ms(run) - slowest[-1] * 1000)

        median_overhead = statistics.median(overheads)
        print(f"pipeline bench: 3 models per run, worker concurrency {concurrency}")
        print("(a) zero model latency")
        print(
            f"    orchestration overhead per run, wall time minus slowest model "
            f"({options.runs} runs one at a time): "
            f"median {median_overhead:.1f} ms, mean {statistics.mean(overheads):.1f} ms, "
            f"p95 {_p95(overheads):.1f} ms, max {max(overheads):.1f} ms  "
            f"[target: median < {OVERHEAD_TARGET_MS:.0f} ms: "
            f"{_verdict(met=median_overhead < OVERHEAD_TARGET_MS)}; "
            f"baseline, same measure at {SLOW_MODEL_SECONDS:g} s per model: "
            f"median {statistics.median(slow_overheads):.1f} ms]"
        )
        dispatch, models, settle = (statistics.median(stage) for stage in zip(*stages, strict=True))
        print(
            f"    median split: start to first model {dispatch:.1f} ms, models {models:.1f} ms, "
            f"last model to run final {settle:.1f} ms"
        )
        throughput = options.runs / elapsed
        print(
            f"    throughput ({options.runs} runs x {len(FAST_MODELS)} models started together): "
            f"{throughput:.1f} runs/s ({elapsed:.2f} s)  "
            f"[target: >= {THROUGHPUT_TARGET:.0f} runs/s: "
            f"{_verdict(met=throughput >= THROUGHPUT_TARGET)}; "
            f"baseline, one at a time: {len(walls) / (sum(walls) / 1000):.1f} runs/s]"
        )
        print(
            "    CPU per run meanwhile: "
            + ", ".join(f"{role} {ms:.1f} ms" for role, ms in cpu_ms_per_run.items())
            + f" (this machine has {os.cpu_count()} cores)"
        )
        median_ratio = statistics.median(ratios)
        print(f"(b) {SLOW_MODEL_SECONDS:g} s per model ({options.slow_runs} runs one at a time)")
        print(
            f"    slowest model per run, as the server measured it: "
            f"median {statistics.median(slowest):.3f} s, max {max(slowest):.3f} s"
        )
        print(
            f"    run wall time / slowest model: median {median_ratio:.3f}, "
            f"p95 {_p95(ratios):.3f}, max {max(ratios):.3f}  "
            f"[target: median <= {WALL_RATIO_TARGET}: "
            f"{_verdict(met=median_ratio <= WALL_RATIO_TARGET)}]"
        )
    finally:
        try:
            _stop_worker(worker)
        finally:
            questions.put(None)
            server.join(30)
            owner.delete()
            shutil.rmtree(media_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
