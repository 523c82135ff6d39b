"""List benchmark: the media list of a user with 10,000 items, against this machine's ceiling.

Starts the web server as `drishtiksha.runner` does (its uvicorn command and the real settings and
middleware) on a scratch PostgreSQL database, with `DJANGO_SETTINGS_MODULE=bench.ceiling_settings`:
the real URLs plus `/bench/ceiling`, a trivial view (a tiny JSON answer, no database, no session).
Then it reports:

- the ceiling: p50/p95 latency and requests/s of the trivial view at 1 and 50 concurrent clients
  (keep-alive connections), what the server and the middleware cost with no work at all;
- the idle list: one user owns `--media` items, each with a latest run and 2-3 analyses (every
  fourth item has an earlier run too), with result payloads; `GET /api/v1/media` with a Bearer
  token and the dashboard (`/`, the library page) with a session, first page, deep pages and with
  each filter, one request at a time; every round sends one request of each case, the trivial
  view included, so that the ratio to the ceiling is taken under the same conditions;
- SQL queries per request, counted in this process with `django.test.Client` and
  `CaptureQueriesContext`: small vs large pages and first vs deep pages must cost the same;
- with `--explain`: EXPLAIN (ANALYZE, BUFFERS) of each query of the first and a deep page.

    .venv/bin/python bench/list.py                          # 10,000 items, 200 rounds
    .venv/bin/python bench/list.py --rounds 100 --explain
    .venv/bin/python bench/list.py --database bench_x --keep    # keep the seeded database
    .venv/bin/python bench/list.py --reuse bench_x              # measure it again, no seeding

Needs PostgreSQL (DATABASE_URL's server; a scratch database is created and dropped unless
`--keep`) and Redis (REDIS_URL, default redis://127.0.0.1:6379/11; keys get a fresh prefix).
Exits non-zero when a request failed or a query count is not constant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.support import ScratchDatabase, free_port, percentile  # noqa: E402

SETTINGS_MODULE = "bench.ceiling_settings"
CEILING_URL = "/bench/ceiling"
PASSWORD = "list-bench-passphrase"  # noqa: S105 - a throwaway account in a scratch database
EMAIL = "list-bench@example.com"
P95_TARGET_MS = 30.0
READY_TIMEOUT_SECONDS = 60
CONCURRENCY_LEVELS = (1, 50)
MODELS_BY_TYPE = {
    "VIDEO": ["EFFICIENTNET-B7", "SIGLIP-LSTM-V4", "COLOR-CUES-LSTM"],
    "IMAGE": ["DISTIL-DIRE-V1", "SIGLIP-IMAGE-V1", "FREQ-CNN-V2"],
    "AUDIO": ["SCATTERING-WAVE-V1", "MEL-SPEC-CNN-V1", "RAWNET-LITE"],
}


# --- HTTP: a minimal keep-alive HTTP/1.1 client, cheap enough to share two cores with the server --


class HttpError(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise HttpError("connection closed")
    status = int(status_line.split()[1])
    length, chunked = None, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return status, bytes(body)
    return status, await reader.readexactly(length or 0)


def _request_bytes(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Case:
    """One kind of request, and the latencies of its answers."""

    name: str
    path: str
    headers: dict[str, str]
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    last_failure: str = ""

    @property
    def request(self) -> bytes:
        return _request_bytes(self.path, self.headers)


async def _send(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, case: Case, record: bool
) -> None:
    started = time.perf_counter()
    writer.write(case.request)
    status, body = await _read_response(reader)
    elapsed = time.perf_counter() - started
    if status != 200:
        case.failures += 1
        case.last_failure = f"HTTP {status}: {body[:200]!r}"
    elif record:
        case.latencies.append(elapsed)


async def _concurrent(port: int, case: Case, clients: int, per_client: int) -> float:
    """`clients` connections, each sending `per_client` requests in turn; returns the wall time."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]

    async def client(reader, writer) -> None:
        for _ in range(per_client):
            await _send(reader, writer, case, record=True)

    started = time.perf_counter()
    await asyncio.gather(*(client(reader, writer) for reader, writer in connections))
    wall = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return wall


async def _rounds(port: int, cases: list[Case], rounds: int, warmup: int) -> None:
    """One connection; each round sends one request of every case, in the same order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for number in range(warmup + rounds):
        for case in cases:
            await _send(reader, writer, case, record=number >= warmup)
    writer.close()


# --- The scratch database and its data ------------------------------------------------------------


def _payload(media_type: str, frames: int) -> dict:
    from tests.factories import audio_result_payload, image_result_payload, video_result_payload

    if media_type == "VIDEO":
        return video_result_payload(frames=frames)
    if media_type == "IMAGE":
        return image_result_payload(size=max(8, frames // 3))
    payload = audio_result_payload()
    payload["visualization"]["spectrogram_data"] = payload["visualization"]["spectrogram_data"][
        : max(1, frames // 4)
    ]
    return payload


def _seed(count: int, frames: int) -> None:
    """One user with `count` media, as the real data has them: each with a latest run (every
    fourth one with an earlier run too), 2-3 analyses per run, payloads and verdict details."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media

    user = User.objects.create_user(EMAIL, PASSWORD)
    payloads = {kind: _payload(kind, frames) for kind in MODELS_BY_TYPE}
    # Spread over time as uploads are (the model's auto_now_add would stamp them all "now").
    for model in (Media, AnalysisRun, DeepfakeAnalysis):
        model._meta.get_field("created_at").auto_now_add = False
    now = timezone.now()
    kinds = ["VIDEO"] * 14 + ["IMAGE"] * 3 + ["AUDIO"] * 3
    extensions = {"VIDEO": ("mp4", "video/mp4"), "IMAGE": ("jpg", "image/jpeg")}
    extensions["AUDIO"] = ("wav", "audio/wav")
    statuses = ["ANALYZED"] * 17 + ["PARTIALLY_ANALYZED", "FAILED", "ANALYZED"]
    verdicts = ["FAKE", "REAL", "INCONCLUSIVE", "FAKE", "REAL"]
    batch = 1000
    with transaction.atomic():
        for start in range(0, count, batch):
            media_rows, run_rows, analysis_rows, latest = [], [], [], []
            for index in range(start, min(count, start + batch)):
                kind = kinds[index % len(kinds)]
                extension, mimetype = extensions[kind]
                created = now - timedelta(minutes=index)
                status = statuses[index % len(statuses)]
                media = Media(
                    owner=user,
                    original_filename=f"clip-{index}.{extension}",
                    file=f"{kind.lower()}s/{uuid.uuid4()}.{extension}",
                    thumbnail=f"thumbnails/{uuid.uuid4()}.jpg" if kind != "AUDIO" else "",
                    mimetype=mimetype,
                    size=1_000_000 + index,
                    description=f"interview recording {index}" if index % 3 == 0 else "",
                    status=status,
                    media_type=kind,
                    has_audio=(index % 2 == 0) if kind == "VIDEO" else None,
                    metadata={
                        "format": {"formatName": extension, "duration": 10.0, "size": 1_000_000},
                        "video": {"codec": "h264", "width": 1280, "height": 720}
                        if kind == "VIDEO"
                        else None,
                    },
                    sha256=f"{index:064x}",
                    created_at=created,
                )
                media_rows.append(media)
                run_numbers = (1, 2) if index % 4 == 0 else (1,)
                for run_number in run_numbers:
                    verdict = verdicts[(index + run_number) % len(verdicts)]
                    names = MODELS_BY_TYPE[kind][: 3 if index % 2 else 2]
                    run = AnalysisRun(
                        media=media,
                        run_number=run_number,
                        status=status,
                        verdict=verdict if status != "FAILED" else None,
                        fake_score=0.62,
                        agreement=0.67,
                        verdict_reason="Two of three models found signs of manipulation.",
                        verdict_details={
                            "contributions": [
                                {"model": n, "weight": 1.0, "probability": 0.6, "reliability": None}
                                for n in names
                            ],
                            "fake_threshold": 0.6,
                            "real_threshold": 0.4,
                        },
                        created_at=created + timedelta(seconds=run_number),
                        started_at=created + timedelta(seconds=run_number),
                        finished_at=created + timedelta(seconds=run_number + 5),
                    )
                    run_rows.append(run)
                    for name in names:
                        analysis_rows.append(
                            DeepfakeAnalysis(
                                run=run,
                                model_name=name,
                                model_used=name,
                                model_description=f"{name}: a detector of manipulated media.",
                                prediction="FAKE",
                                confidence=0.8,
                                status="COMPLETED",
                                processing_time=4.2,
                                media_type=kind,
                                result_payload=payloads[kind],
                                progress=100,
                                total=100,
                                attempts=1,
                                created_at=created,
                            )
                        )
                latest.append((media, run_rows[-1]))
            Media.objects.bulk_create(media_rows)
            AnalysisRun.objects.bulk_create(run_rows)
            DeepfakeAnalysis.objects.bulk_create(analysis_rows)
            for media, run in latest:
                media.latest_run = run
            Media.objects.bulk_update([media for media, _ in latest], ["latest_run"])
    with connection.cursor() as cursor:
        # This machine's PostgreSQL runs without autovacuum: fresh statistics for the planner.
        cursor.execute("VACUUM ANALYZE")


# --- In-process: queries per request, and their plans ---------------------------------------------


def _explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def _queries(client, path: str, headers: dict[str, str]) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"in-process GET {path}: HTTP {response.status_code}")
    return [query["sql"] for query in captured.captured_queries]


def _summary(sql: str) -> str:
    """A query shortened to what tells it apart: its table and its clauses after FROM."""
    compact = re.sub(r"\s+", " ", sql)
    tail = compact.split(" FROM ", 1)[-1]
    return (tail[:150] + "...") if len(tail) > 150 else tail


# --- main -----------------------------------------------------------------------------------------


def _cases(token: str, session_cookie: str, mid_page: int, deep_page: int) -> list[Case]:
    bearer = {"Authorization": f"Bearer {token}"}
    cookie = {"Cookie": session_cookie}
    api = "/api/v1/media"
    return [
        Case("ceiling (trivial view)", CEILING_URL, {}),
        Case("API page 1, pageSize=20", f"{api}?pageSize=20", bearer),
        Case(f"API page {mid_page}, pageSize=20", f"{api}?pageSize=20&page={mid_page}", bearer),
        Case(f"API page {deep_page}, pageSize=20", f"{api}?pageSize=20&page={deep_page}", bearer),
        Case("API page 1, pageSize=100", f"{api}?pageSize=100", bearer),
        Case("API search=clip-12", f"{api}?pageSize=20&search=clip-12", bearer),
        Case("API search, no match", f"{api}?pageSize=20&search=nothing-matches", bearer),
        Case("API mediaType=IMAGE", f"{api}?pageSize=20&mediaType=IMAGE", bearer),
        Case("API status=FAILED", f"{api}?pageSize=20&status=FAILED", bearer),
        Case("API verdict=FAKE", f"{api}?pageSize=20&verdict=FAKE", bearer),
        Case("API ordering=filename", f"{api}?pageSize=20&ordering=filename", bearer),
        Case("library page 1 (20)", "/?pageSize=20", cookie),
        Case(f"library page {deep_page} (20)", f"/?pageSize=20&page={deep_page}", cookie),
        Case("library search=clip-12", "/?pageSize=20&search=clip-12", cookie),
    ]


def _print_latencies(cases: list[Case], ceiling: Case) -> None:
    ceiling_p50 = percentile(ceiling.latencies, 0.5) * 1000
    ceiling_p95 = percentile(ceiling.latencies, 0.95) * 1000
    print(
        f"\n{'sequential, one keep-alive connection':<34} {'p50':>8} {'p95':>8}  x ceiling p50/p95"
    )
    for case in cases:
        p50 = percentile(case.latencies, 0.5) * 1000
        p95 = percentile(case.latencies, 0.95) * 1000
        mark = "" if case is ceiling else ("  ok" if p95 < P95_TARGET_MS else "  OVER 30 ms")
        print(
            f"  {case.name:<32} {p50:>6.1f}ms {p95:>6.1f}ms  "
            f"{p50 / ceiling_p50:>5.1f} / {p95 / ceiling_p95:<5.1f}{mark}"
        )


def main() -> None:  # noqa: C901, PLR0915 - one linear script, easier to read in one piece
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=int, default=10_000, help="items of the one user")
    parser.add_argument("--rounds", type=int, default=200, help="sequential requests per case")
    parser.add_argument("--ceiling-requests", type=int, default=2000, help="per concurrency level")
    parser.add_argument("--payload-frames", type=int, default=100, help="result payload size")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the list queries")
    parser.add_argument("--database", help="scratch database to create (default: a fresh name)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", help="measure an already seeded database; nothing is dropped")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11")
    name = args.reuse or args.database or f"bench_list_{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="drishtiksha-list-"))
    with ScratchDatabase(
        server_url, name, create=not args.reuse, keep=args.keep or bool(args.reuse)
    ) as db:
        env = {
            **os.environ,
            "DATABASE_URL": db.url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"list-{uuid.uuid4().hex[:8]}",
            # Set, so that the runner's plan starts no inference server and no Redis of its own.
            "ML_SERVER_URL": "http://127.0.0.1:9",
            "DRISHTIKSHA_VAR_DIR": str(workdir / "var"),
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from drishtiksha.runner import build_plan

        if not args.reuse:
            call_command("migrate", "--noinput", verbosity=0)
            started = time.perf_counter()
            _seed(args.media, args.payload_frames)
            print(f"seeded {args.media} media in {time.perf_counter() - started:.1f} s")
        from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media

        counts = (
            Media.objects.count(),
            AnalysisRun.objects.count(),
            DeepfakeAnalysis.objects.count(),
        )
        print(f"rows: {counts[0]} media, {counts[1]} runs, {counts[2]} analyses")
        connection.close()

        port = free_port()
        plan = build_plan({**env, "HOST": "127.0.0.1", "PORT": str(port)})
        command = plan.processes["web"]
        print(
            "server:",
            " ".join(Path(command[0]).name if i == 0 else p for i, p in enumerate(command)),
        )
        log = (workdir / "web.log").open("wb")
        web = subprocess.Popen(
            command, cwd=BASE_DIR, env=plan.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        failed: list[str] = []
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while True:
                try:
                    if requests.get(f"{base}{CEILING_URL}", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if web.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the web server did not start; see {workdir / 'web.log'}")
                time.sleep(0.3)

            login = requests.post(
                f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
            )
            login.raise_for_status()
            token = login.json()["data"]["token"]
            browser = requests.Session()
            browser.get(f"{base}/accounts/login/", timeout=30).raise_for_status()
            browser.post(
                f"{base}/accounts/login/",
                data={
                    "email": EMAIL,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/accounts/login/"},
                timeout=30,
            )
            if "sessionid" not in browser.cookies:
                raise SystemExit("the session login did not set a session cookie")
            session_cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())

            pages = max(1, -(-args.media // 20))
            mid_page, deep_page = min(50, pages), min(400, pages)
            cases = _cases(token, session_cookie, mid_page, deep_page)
            ceiling = cases[0]

            print(f"\nceiling: {CEILING_URL} (tiny JSON, no database, no session), keep-alive")
            for clients in CONCURRENCY_LEVELS:
                for attempt in range(2):
                    case = Case(ceiling.name, ceiling.path, {})
                    per_client = max(1, args.ceiling_requests // clients)
                    wall = asyncio.run(_concurrent(port, case, clients, per_client))
                    if attempt == 0:
                        continue  # warm-up pass
                    p50 = percentile(case.latencies, 0.5) * 1000
                    p95 = percentile(case.latencies, 0.95) * 1000
                    print(
                        f"  {clients:>3} concurrent: p50 {p50:6.2f} ms, p95 {p95:6.2f} ms, "
                        f"{clients * per_client / wall:7.0f} requests/s "
                        f"({clients * per_client} requests, {case.failures} failed)"
                    )
                    if case.failures:
                        failed.append(f"ceiling x{clients}: {case.last_failure}")

            asyncio.run(_rounds(port, cases, args.rounds, warmup=max(5, args.rounds // 10)))
            print(f"\n{args.rounds} rounds, each one request of every case in turn:", end="")
            _print_latencies(cases, ceiling)
            for case in cases:
                if case.failures:
                    failed.append(f"{case.name}: {case.failures} failed, {case.last_failure}")
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
            log.close()

        client = Client()
        bearer = {"Authorization": f"Bearer {token}"}
        client.force_login(Media.objects.first().owner)
        api = "/api/v1/media"
        probes = [
            ("API pageSize=20", f"{api}?pageSize=20", bearer),
            ("API pageSize=100", f"{api}?pageSize=100", bearer),
            ("API pageSize=200 (lowered to 100)", f"{api}?pageSize=200", bearer),
            (f"API page {deep_page}, pageSize=20", f"{api}?pageSize=20&page={deep_page}", bearer),
            ("API search=clip-12", f"{api}?pageSize=20&search=clip-12", bearer),
            ("API verdict=FAKE", f"{api}?pageSize=20&verdict=FAKE", bearer),
            ("API unpaged (first 500)", api, bearer),
            ("library pageSize=20", "/?pageSize=20", {}),
            ("library pageSize=100", "/?pageSize=100", {}),
            (f"library page {deep_page}", f"/?pageSize=20&page={deep_page}", {}),
        ]
        print("\nSQL queries per request (in process, django.test.Client):")
        captured: dict[str, list[str]] = {}
        for label, path, headers in probes:
            captured[label] = _queries(client, path, headers)
            print(f"  {label:<36} {len(captured[label]):>3}")
        for group in ("API", "library"):
            paged = {
                len(q)
                for label, q in captured.items()
                if label.startswith(group) and "unpaged" not in label
            }
            if len(paged) != 1:
                failed.append(
                    f"{group} query count varies with page size or depth: {sorted(paged)}"
                )
        print("  the queries of API pageSize=20:")
        for sql in captured["API pageSize=20"]:
            print(f"    {_summary(sql)}")
        print("  the queries of library pageSize=20:")
        for sql in captured["library pageSize=20"]:
            print(f"    {_summary(sql)}")

        if args.explain:
            for label in (
                "API pageSize=20",
                f"API page {deep_page}, pageSize=20",
                "API search=clip-12",
            ):
                print(f"\nEXPLAIN ANALYZE, {label}:")
                for sql in captured[label]:
                    if not sql.lstrip().upper().startswith("SELECT"):
                        continue
                    plan_lines = _explain(sql)
                    print(f"  -- {_summary(sql)}")
                    for line in plan_lines:
                        print(f"     {line}")
        connection.close()
    shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        raise SystemExit("FAILED:\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    main()
