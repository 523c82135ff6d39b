"""Load benchmark: concurrent uploads while many WebSocket clients listen for progress.

Starts the real web server (uvicorn) and a real Celery worker on a scratch PostgreSQL database,
with the test suite's fake inference server (three models, a fixed delay each) in this process.
Then it connects the WebSocket clients (several per user, authenticated with one-time tickets),
fires the uploads at once, waits for every run to finish and reports:

- errors: uploads or API calls that did not answer 2xx or raised (timeouts, dropped
  connections), WebSocket clients that failed or never got their snapshot, and runs that ended
  FAILED (or PARTIALLY_ANALYZED: every fake model answers) or were not final in time; with a
  breakdown by kind;
- final events lost: RUN_COMPLETED events a listener should have received but did not, counted
  over every listener of a user whose upload was accepted, including listeners that dropped;
- p50/p95 latency of the uploads and of list requests made during the load (answered requests),
  beside the same list requests made one at a time once it is over;
- the CPU the web server used while it answered them, per request (it includes the progress
  relay's work meanwhile): the part of that latency that one process's core has to carry;
- peak resident memory per role (web server, worker): the largest single process, and the whole
  process tree (the web server's ffmpeg children, the worker's pool).

    .venv/bin/python bench/load.py                    # 50 uploads, 200 listeners
    .venv/bin/python bench/load.py --uploads 20 --listeners 80
    .venv/bin/python bench/load.py --web-workers 2        # two web processes, as in the image
    .venv/bin/python bench/load.py --database drishtiksha_bench   # a scratch database by name

Needs ffmpeg, PostgreSQL (DATABASE_URL's server; a scratch database is created and dropped) and
Redis (REDIS_URL, default redis://127.0.0.1:6379/11; keys get a fresh prefix). Exits non-zero when
there were errors or lost final events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
import websockets

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.support import ScratchDatabase, free_port, percentile, process_tree, processes_stop  # noqa: E402
from tests.fakes.inference_server import FakeInferenceServer, FakeModel  # noqa: E402

PASSWORD = "load-bench-passphrase"  # noqa: S105 - throwaway accounts in a scratch database
MODEL_DELAY_SECONDS = 0.5
SAMPLE_SECONDS = 0.1
FINISH_TIMEOUT_SECONDS = 300
FINAL_EVENT_GRACE_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 60
FINAL_STATUSES = frozenset({"ANALYZED", "PARTIALLY_ANALYZED", "FAILED"})
# Every fake model answers, so a run that is not ANALYZED had a model fail under the load.
FAILED_RUN_STATUSES = frozenset({"PARTIALLY_ANALYZED", "FAILED"})


def _tree_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds used so far by a process and its live descendants."""
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_rss_kib(pid: int) -> list[tuple[str, int]]:
    """(name, resident KiB) of a process and of each of its descendants."""
    found = []
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text().splitlines()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        # Kernel threads and zombies have no VmRSS.
        found.append((fields["Name"].strip(), int(fields.get("VmRSS", "0 kB").split()[0])))
    return found


@dataclass
class MemoryPeak:
    """Peaks of one role, each taken over the whole run (they need not be simultaneous)."""

    largest_kib: int = 0
    largest_name: str = ""
    tree_kib: int = 0
    tree_processes: int = 0

    def sample(self, processes: list[tuple[str, int]]) -> None:
        if not processes:
            return
        name, kib = max(processes, key=lambda one: one[1])
        if kib > self.largest_kib:
            self.largest_kib, self.largest_name = kib, name
        total = sum(kib for _, kib in processes)
        if total > self.tree_kib:
            self.tree_kib, self.tree_processes = total, len(processes)


def _error_kind(exc: BaseException) -> str:
    return type(exc).__name__


class Listener:
    """One WebSocket client: records the RUN_COMPLETED events it receives."""

    def __init__(self, user_index: int, url: str, origin: str) -> None:
        self.user_index = user_index
        self.url = url
        self.origin = origin
        self.completed_media: set[str] = set()
        self.snapshot = asyncio.Event()
        self.error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with websockets.connect(self.url, origin=self.origin, open_timeout=30) as ws:
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    message = json.loads(raw)
                    if message.get("type") == "snapshot":
                        self.snapshot.set()
                    elif message.get("event") == "RUN_COMPLETED":
                        self.completed_media.add(message["mediaId"])
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the bench
            self.error = f"{type(exc).__name__}: {exc}"
            self.snapshot.set()


def _make_clip(folder: Path) -> Path:
    clip = folder / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=duration=1:size=160x120:rate=15", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-preset", "ultrafast", str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def main() -> None:  # noqa: C901 - one linear script, easier to read in one piece
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--worker-concurrency", type=int, default=6)
    parser.add_argument(
        "--web-workers",
        type=int,
        default=1,
        help="uvicorn processes (--workers), as WEB_CONCURRENCY sets them in the Docker image",
    )
    parser.add_argument(
        "--database",
        help="name of the scratch database to create on DATABASE_URL's server and drop afterwards"
        " (it must not exist; default: a fresh load_<random> name)",
    )
    args = parser.parse_args()
    users = args.uploads  # one upload per user, so every user has listeners waiting for it

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11")
    workdir = Path(tempfile.mkdtemp(prefix="drishtiksha-load-"))
    fake = FakeInferenceServer(
        models=[
            FakeModel(name, video=True, prediction=prediction, confidence=0.8, delay=delay)
            for name, prediction, delay in (
                ("MODEL-A", "FAKE", MODEL_DELAY_SECONDS),
                ("MODEL-B", "REAL", MODEL_DELAY_SECONDS),
                ("MODEL-C", "FAKE", MODEL_DELAY_SECONDS),
            )
        ]
    ).start()
    processes: dict[str, subprocess.Popen] = {}
    with ScratchDatabase(server_url, args.database, prefix="load") as scratch:
        env = {
            **os.environ,
            "DATABASE_URL": scratch.url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"load-{uuid.uuid4().hex[:8]}",
            "ML_SERVER_URL": fake.url,
            "ML_SERVER_API_KEY": fake.api_key,
            "DRISHTIKSHA_VAR_DIR": str(workdir / "var"),
            "API_UPLOAD_THROTTLE_RATE": "100000/hour",
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        create_users = (
            "from accounts.models import User\n"
            f"for i in range({users}):\n"
            f"    User.objects.create_user(f'load{{i}}@example.com', '{PASSWORD}')\n"
        )
        subprocess.run([*manage, "shell", "-c", create_users], env=env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes["web"] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "drishtiksha.asgi:application", "--host",
             "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio", "--log-level",
             "warning", "--workers", str(args.web_workers)],
            cwd=BASE_DIR, env=env, start_new_session=True,
        )  # fmt: skip
        processes["worker"] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "drishtiksha", "worker", "--loglevel",
             "WARNING", "--queues", "analysis,housekeeping", "--concurrency",
             str(args.worker_concurrency), "--hostname", f"load-{uuid.uuid4().hex[:6]}@%h"],
            cwd=BASE_DIR, env=env, start_new_session=True,
        )  # fmt: skip
        peaks: dict[str, MemoryPeak] = defaultdict(MemoryPeak)
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                for name, process in processes.items():
                    peaks[name].sample(_tree_rss_kib(process.pid))
                time.sleep(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the web server did not become ready")
                time.sleep(0.3)

            clip = _make_clip(workdir)
            sessions = []
            for index in range(users):
                answer = requests.post(
                    f"{base}/api/v1/auth/login",
                    json={"email": f"load{index}@example.com", "password": PASSWORD},
                    timeout=30,
                )
                answer.raise_for_status()
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {answer.json()['data']['token']}"
                sessions.append(session)

            listeners = []
            for number in range(args.listeners):
                user_index = number % users
                ticket = sessions[user_index].post(f"{base}/api/v1/auth/ws-ticket", timeout=30)
                ticket.raise_for_status()
                url = f"ws://127.0.0.1:{port}{ticket.json()['data']['url']}"
                listeners.append(Listener(user_index, url, base))

            loop = asyncio.new_event_loop()
            stop = asyncio.Event()
            tasks: list[asyncio.Task] = []

            def run_listeners() -> None:
                asyncio.set_event_loop(loop)
                for listener in listeners:
                    tasks.append(loop.create_task(listener.run(stop)))
                loop.run_forever()

            threading.Thread(target=run_listeners, daemon=True).start()
            connect_deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
            while not all(listener.snapshot.is_set() for listener in listeners):
                if time.monotonic() > connect_deadline:
                    break
                time.sleep(0.1)
            connected = sum(1 for li in listeners if li.snapshot.is_set() and not li.error)
            # A client still waiting for its snapshot is counted now, not silently left out.
            never_connected = [li for li in listeners if not li.snapshot.is_set()]

            upload_latencies: list[float] = []
            list_latencies: list[float] = []
            errors: Counter[str] = Counter()
            error_examples: list[str] = []

            def error(kind: str, detail: str) -> None:
                errors[kind] += 1
                if len(error_examples) < 10:
                    error_examples.append(f"{kind}: {detail}")

            media_by_user: dict[int, str] = {}
            body = clip.read_bytes()

            # Each call returns its latency and answer, or raises; the caller collects every one.
            def upload(index: int) -> tuple[float, requests.Response]:
                started = time.perf_counter()
                response = sessions[index].post(
                    f"{base}/api/v1/media",
                    files={"media": ("clip.mp4", body, "video/mp4")},
                    timeout=120,
                )
                return time.perf_counter() - started, response

            def browse(index: int) -> tuple[float, requests.Response]:
                started = time.perf_counter()
                response = sessions[index].get(f"{base}/api/v1/media?pageSize=20", timeout=60)
                return time.perf_counter() - started, response

            web_cpu_before = _tree_cpu_seconds(processes["web"].pid)
            started = time.perf_counter()
            calls: list[tuple[str, int, Future]] = []
            with ThreadPoolExecutor(max_workers=args.uploads * 2) as pool:
                for index in range(args.uploads):
                    calls.append(("upload", index, pool.submit(upload, index)))
                    calls.append(("list", index, pool.submit(browse, index)))
            uploads_done = time.perf_counter() - started
            web_cpu = _tree_cpu_seconds(processes["web"].pid) - web_cpu_before
            for what, index, future in calls:
                try:
                    latency, response = future.result()
                except Exception as exc:  # noqa: BLE001 - a timeout or dropped connection counts
                    error(f"{what} {_error_kind(exc)}", f"#{index} {exc}")
                    continue
                expected_status = 202 if what == "upload" else 200
                (upload_latencies if what == "upload" else list_latencies).append(latency)
                if response.status_code != expected_status:
                    error(f"{what} HTTP {response.status_code}", f"#{index} {response.text[:200]}")
                elif what == "upload":
                    media_by_user[index] = response.json()["data"]["id"]

            finish_deadline = time.monotonic() + FINISH_TIMEOUT_SECONDS
            pending = dict(media_by_user)
            final_status: dict[int, str] = {}
            while pending and time.monotonic() < finish_deadline:
                for index, media_id in list(pending.items()):
                    try:
                        detail = sessions[index].get(f"{base}/api/v1/media/{media_id}", timeout=30)
                    except requests.RequestException as exc:
                        error(f"detail {_error_kind(exc)}", f"#{index} {exc}")
                        continue
                    if detail.status_code != 200:
                        error(f"detail HTTP {detail.status_code}", f"#{index} {detail.text[:200]}")
                        continue
                    status = detail.json()["data"]["status"]
                    if status in FINAL_STATUSES:
                        final_status[index] = status
                        pending.pop(index)
                time.sleep(0.5)
            all_done = time.perf_counter() - started

            # Baseline, same run: the same list requests one at a time once the load is over (the
            # runs are final; the websockets are still connected).
            idle_list_latencies = []
            for index in range(args.uploads):
                latency, response = browse(index)
                if response.status_code == 200:
                    idle_list_latencies.append(latency)
                else:
                    error(
                        f"idle list HTTP {response.status_code}", f"#{index} {response.text[:200]}"
                    )

            grace = time.monotonic() + FINAL_EVENT_GRACE_SECONDS
            while time.monotonic() < grace:
                # Only a listener still connected can yet receive its event; waiting for the
                # others would only spend the grace period.
                missing = sum(
                    1
                    for li in listeners
                    if not li.error
                    and li.snapshot.is_set()
                    and li.user_index in media_by_user
                    and media_by_user[li.user_index] not in li.completed_media
                )
                if not missing:
                    break
                time.sleep(0.2)
            loop.call_soon_threadsafe(stop.set)
            time.sleep(1)
            loop.call_soon_threadsafe(loop.stop)
        finally:
            sampling.set()
            processes_stop(processes.values())
            fake.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    for li in listeners:
        if li.error:
            kind, _, detail = li.error.partition(": ")
            error(f"websocket {kind}", detail)
    for li in never_connected:
        if not li.error:
            error("websocket no snapshot", f"none within {CONNECT_TIMEOUT_SECONDS} s")
    failed_runs = Counter(s for s in final_status.values() if s in FAILED_RUN_STATUSES)
    for status, count in failed_runs.items():
        errors[f"run ended {status}"] += count
    if pending:
        errors[f"run not final after {FINISH_TIMEOUT_SECONDS} s"] += len(pending)

    # Every listener of a user whose upload was accepted was owed that run's RUN_COMPLETED; one
    # whose socket dropped or never opened and so missed it is a loss, not left out of the count.
    owed = [li for li in listeners if li.user_index in media_by_user]
    lost = [li for li in owed if media_by_user[li.user_index] not in li.completed_media]
    lost_dropped = sum(1 for li in lost if li.error or not li.snapshot.is_set())
    total_errors = sum(errors.values())
    print(f"web processes:           {args.web_workers} (uvicorn --workers)")
    print(f"uploads:                 {args.uploads} at once ({len(media_by_user)} accepted)")
    print(f"websocket listeners:     {args.listeners} ({connected} connected, snapshot received)")
    statuses = Counter(final_status.values())
    print(
        f"runs:                    {', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}"
        f"{'; ' if statuses else ''}{len(pending)} not final after {FINISH_TIMEOUT_SECONDS} s"
    )
    print(
        f"errors:                  {total_errors}"
        f" (of which runs FAILED: {failed_runs['FAILED']},"
        f" PARTIALLY_ANALYZED: {failed_runs['PARTIALLY_ANALYZED']}, not final: {len(pending)})"
    )
    for kind, count in errors.most_common():
        print(f"  {count:>5}  {kind}")
    for example in error_examples:
        print(f"  e.g. {example}")
    print(
        f"final events lost:       {len(lost)} of {len(owed)}"
        f" ({lost_dropped} of them on listeners whose socket dropped or never opened)"
    )
    print(
        f"upload latency:          p50 {percentile(upload_latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(upload_latencies, 0.95) * 1000:.0f} ms"
    )
    print(
        f"list latency under load: p50 {percentile(list_latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(list_latencies, 0.95) * 1000:.0f} ms"
        f"  [baseline, the same requests one at a time after it:"
        f" p50 {percentile(idle_list_latencies, 0.5) * 1000:.0f} ms,"
        f" p95 {percentile(idle_list_latencies, 0.95) * 1000:.0f} ms]"
    )
    # Every upload and list request had answered by then; the progress relay ran meanwhile too.
    print(
        f"web CPU while answering: {web_cpu:.2f} s in {uploads_done:.2f} s,"
        f" {web_cpu / len(calls) * 1000:.1f} ms per upload or list request"
        f" ({args.web_workers} process{'es' if args.web_workers > 1 else ''})"
    )
    finished = "all runs final" if not pending else f"{len(pending)} runs still not final"
    print(f"all uploads answered in  {uploads_done:.1f} s; {finished} at {all_done:.1f} s")
    if upload_latencies:
        print(f"mean upload latency:     {statistics.mean(upload_latencies) * 1000:.0f} ms")
    for name, peak in peaks.items():
        print(
            f"peak RSS {name:<7}         largest single process {peak.largest_kib / 1024:,.0f} MiB"
            f" ({peak.largest_name}); whole process tree {peak.tree_kib / 1024:,.0f} MiB"
            f" ({peak.tree_processes} processes)"
        )
    if total_errors or lost:
        raise SystemExit(f"FAILED: {total_errors} errors, {len(lost)} final events lost")


if __name__ == "__main__":
    main()
