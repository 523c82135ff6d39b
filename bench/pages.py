"""Page benchmark: the staff monitoring page's time to first byte and total, beside a baseline.

Starts the real web server (uvicorn), a real Celery worker and Celery beat on a scratch
PostgreSQL database, with the test suite's fake inference server in this process, as production
runs them: beat's health check keeps the figures the page shows. It seeds analyses (so that the
analytics have rows to aggregate), waits for the first health check, logs a staff user in through
the login form, and then requests, interleaved, the monitoring page and `/api/health` (liveness:
touches nothing, so it measures the server itself). It prints p50/p95 time to first byte and total
of each, with the targets.

    .venv/bin/python bench/pages.py                  # 30 requests each, 15000 analyses
    .venv/bin/python bench/pages.py --requests 50 --analyses 0

Needs PostgreSQL (DATABASE_URL's server; a scratch database is created and dropped) and Redis
(REDIS_URL, default redis://127.0.0.1:6379/11; keys get a fresh prefix). Exits non-zero when the
monitoring page misses its target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.support import ScratchDatabase, free_port, percentile, processes_stop  # noqa: E402
from tests.fakes.inference_server import FakeInferenceServer, FakeModel  # noqa: E402

EMAIL = "pages-bench@example.com"
PASSWORD = "pages-bench-passphrase"  # noqa: S105 - a throwaway account in a scratch database
PAGE = "/monitoring/"
BASELINE = "/api/health"
TARGET_TOTAL_MS = 300
# Beat checks this often here, so that the first check comes soon after start.
HEALTH_CHECK_INTERVAL_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
FIRST_CHECK_TIMEOUT_SECONDS = 60
WARM_UP_REQUESTS = 3
MODELS_PER_MEDIA = 5

SEED = """
import random
from django.utils import timezone
from accounts.models import User
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
owner = User.objects.create_superuser({email!r}, {password!r})
count = {media}
media = Media.objects.bulk_create([
    Media(owner=owner, original_filename=f"clip-{{i}}.mp4", file=f"videos/clip-{{i}}.mp4",
          mimetype="video/mp4", size=1, media_type="VIDEO", sha256=f"{{i:064x}}")
    for i in range(count)
])
runs = AnalysisRun.objects.bulk_create(
    [AnalysisRun(media=item, run_number=1, status=RunStatus.ANALYZED) for item in media]
)
now, rng = timezone.now(), random.Random(7)
DeepfakeAnalysis.objects.bulk_create(
    [DeepfakeAnalysis(run=run, model_name=f"MODEL-{{k}}", status=AnalysisStatus.COMPLETED,
                      processing_time=rng.random() * 10, confidence=rng.random(),
                      media_type="VIDEO", finished_at=now)
     for run in runs for k in range({models})],
    batch_size=5000,
)
for item, run in zip(media, runs):
    item.latest_run = run
Media.objects.bulk_update(media, ["latest_run"], batch_size=1000)
"""


def _timed_get(session: requests.Session, url: str) -> tuple[float, float]:
    """(time to first byte, total) in seconds; the headers' arrival stands for the first byte."""
    started = time.perf_counter()
    with session.get(url, stream=True, timeout=60, allow_redirects=False) as response:
        first_byte = time.perf_counter() - started
        response.raise_for_status()
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        for _ in response.iter_content(chunk_size=65536):
            pass
    return first_byte, time.perf_counter() - started


def _login(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=30).raise_for_status()
    answer = session.post(
        f"{base}/accounts/login/",
        data={
            "email": EMAIL,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if answer.status_code != 302:
        raise SystemExit(f"login answered {answer.status_code}")
    return session


def _wait_for_first_check(database_url: str) -> None:
    deadline = time.monotonic() + FIRST_CHECK_TIMEOUT_SECONDS
    with psycopg.connect(database_url, autocommit=True) as conn:
        while not conn.execute("SELECT 1 FROM monitoring_serverhealth LIMIT 1").fetchone():
            if time.monotonic() > deadline:
                raise SystemExit("beat's health check did not run")
            time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--analyses", type=int, default=15000)
    parser.add_argument(
        "--database",
        help="name of the scratch database to create on DATABASE_URL's server and drop afterwards"
        " (it must not exist; default: a fresh pages_<random> name)",
    )
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11")
    workdir = Path(tempfile.mkdtemp(prefix="drishtiksha-pages-"))
    fake = FakeInferenceServer(
        models=[FakeModel(f"MODEL-{index}", video=True) for index in range(MODELS_PER_MEDIA)]
    ).start()
    processes: dict[str, subprocess.Popen] = {}
    with ScratchDatabase(server_url, args.database, prefix="pages") as scratch:
        env = {
            **os.environ,
            "DATABASE_URL": scratch.url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"pages-{uuid.uuid4().hex[:8]}",
            "ML_SERVER_URL": fake.url,
            "ML_SERVER_API_KEY": fake.api_key,
            "DRISHTIKSHA_VAR_DIR": str(workdir / "var"),
            "HEALTH_CHECK_INTERVAL": str(HEALTH_CHECK_INTERVAL_SECONDS),
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        seed = SEED.format(
            email=EMAIL, password=PASSWORD, media=args.analyses // MODELS_PER_MEDIA,
            models=MODELS_PER_MEDIA,
        )  # fmt: skip
        subprocess.run([*manage, "shell", "-c", seed], env=env, check=True)
        with psycopg.connect(scratch.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            processes["web"] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "drishtiksha.asgi:application", "--host",
                 "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio", "--log-level",
                 "warning"],
                cwd=BASE_DIR, env=env, start_new_session=True,
            )  # fmt: skip
            processes["worker"] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "drishtiksha", "worker", "--loglevel",
                 "WARNING", "--queues", "analysis,housekeeping", "--concurrency", "2",
                 "--hostname", f"pages-{uuid.uuid4().hex[:6]}@%h"],
                cwd=BASE_DIR, env=env, start_new_session=True,
            )  # fmt: skip
            processes["beat"] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "drishtiksha", "beat", "--loglevel",
                 "WARNING", "--schedule", str(workdir / "celerybeat-schedule")],
                cwd=BASE_DIR, env=env, start_new_session=True,
            )  # fmt: skip
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while True:
                try:
                    if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the web server did not become ready")
                time.sleep(0.3)
            _wait_for_first_check(scratch.url)
            session = _login(base)
            for _ in range(WARM_UP_REQUESTS):
                _timed_get(session, f"{base}{PAGE}")
                _timed_get(session, f"{base}{BASELINE}")
            stats_before = sum(1 for request in list(fake.requests) if request.path == "/stats")
            page: list[tuple[float, float]] = []
            baseline: list[tuple[float, float]] = []
            for _ in range(args.requests):
                page.append(_timed_get(session, f"{base}{PAGE}"))
                baseline.append(_timed_get(session, f"{base}{BASELINE}"))
            stats_during = (
                sum(1 for request in list(fake.requests) if request.path == "/stats") - stats_before
            )
        finally:
            processes_stop(processes.values())
            fake.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    def line(name: str, samples: list[tuple[float, float]], target: str) -> str:
        first = [sample[0] * 1000 for sample in samples]
        total = [sample[1] * 1000 for sample in samples]
        return (
            f"{name:<22} first byte p50 {percentile(first, 0.5):6.1f} ms,"
            f" p95 {percentile(first, 0.95):6.1f} ms;"
            f" total p50 {percentile(total, 0.5):6.1f} ms, p95 {percentile(total, 0.95):6.1f} ms"
            f"   target: {target}"
        )

    print(f"requests:              {args.requests} each, interleaved; {args.analyses} analyses")
    print(line(f"GET {PAGE}", page, f"total < {TARGET_TOTAL_MS} ms"))
    print(line(f"GET {BASELINE}", baseline, "baseline (does no work)"))
    print(
        f"/stats requests during the {args.requests} page requests: {stats_during}"
        f" (the beat check, every {HEALTH_CHECK_INTERVAL_SECONDS} s, only)"
    )
    page_p95 = percentile([sample[1] * 1000 for sample in page], 0.95)
    if page_p95 >= TARGET_TOTAL_MS:
        raise SystemExit(f"FAILED: monitoring page p95 {page_p95:.0f} ms >= {TARGET_TOTAL_MS} ms")


if __name__ == "__main__":
    main()
