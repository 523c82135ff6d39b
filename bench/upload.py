"""Upload benchmark: does a large upload keep the web process's memory flat, and how fast is it?

Starts the real web server (uvicorn as `make run` starts it, or daphne) on a throwaway SQLite
database, streams a large real video (raw frames in AVI, made with ffmpeg) to `POST /api/v1/media`,
samples the server's resident memory while it does, and compares the upload's throughput with a
plain disk copy of the same file. The server's MAX_UPLOAD_SIZE is raised to fit the file, so the
body limit in front of Django lets it through.

    .venv/bin/python bench/upload.py                     # 300 MB through uvicorn
    .venv/bin/python bench/upload.py --server daphne     # the same through daphne
    .venv/bin/python bench/upload.py --size-mb 1024 --max-growth-mib 64

Exits non-zero unless the upload answered 202 (a 413 or 415 would otherwise look like a flat, fast
upload), and, with --max-growth-mib, when the web server process grew by more than that.

Needs ffmpeg and a Redis (REDIS_URL, default redis://127.0.0.1:6379/6).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from requests_toolbelt import MultipartEncoder

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "bench-passphrase-123"  # noqa: S105 - a throwaway account in a throwaway database
FRAME_SIZE = (1280, 720)
BYTES_PER_FRAME = FRAME_SIZE[0] * FRAME_SIZE[1] * 3 // 2  # yuv420p
MEMORY_SAMPLE_SECONDS = 0.05
# Headroom above the file for MAX_UPLOAD_SIZE: the AVI index and the multipart framing.
UPLOAD_LIMIT_HEADROOM_BYTES = 64 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kib(pid: int) -> tuple[int, int]:
    """Resident KiB of the server process itself, and of it with all its descendants.

    The descendants are mostly the ffprobe/ffmpeg runs that probe the upload and make its poster:
    they come and go, so they are reported apart from the server's own, lasting, memory.
    """
    own = total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kib = int(line.split()[1])
                    total += kib
                    if current == pid:
                        own = kib
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return own, total


def _make_video(path: Path, size_mb: int) -> None:
    frames = max(1, size_mb * 1024 * 1024 // BYTES_PER_FRAME)
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={FRAME_SIZE[0]}x{FRAME_SIZE[1]}:rate=25",
            "-frames:v", str(frames), "-c:v", "rawvideo", "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
    )  # fmt: skip


def _server_command(server: str, port: int) -> list[str]:
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                "drishtiksha.asgi:application"]  # fmt: skip
    # The command line of drishtiksha.runner's "web" process, quieter.
    return [sys.executable, "-m", "uvicorn", "drishtiksha.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio",
            "--log-level", "warning"]  # fmt: skip


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the web server exited during start-up")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        help="exit non-zero when the web server process grew by more than this many MiB",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="drishtiksha-bench-upload-"))
    env = {
        **os.environ,
        "DRISHTIKSHA_VAR_DIR": str(workdir / "var"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"),
        "ML_SERVER_URL": "http://127.0.0.1:9",  # no inference server: the run simply waits
        "API_UPLOAD_THROTTLE_RATE": "1000/hour",
        "FILE_UPLOAD_TEMP_DIR": str(workdir),
        "DJANGO_DEBUG": "0",
    }
    env.pop("DATABASE_URL", None)
    try:
        video = workdir / "bench.avi"
        print(f"making a {args.size_mb} MB raw video ...", flush=True)
        _make_video(video, args.size_mb)
        size = video.stat().st_size
        # Set over whatever the caller's environment says: the default (500 MiB) would refuse a
        # 1 GiB body with 413 before Django saw it.
        max_upload_size = size + UPLOAD_LIMIT_HEADROOM_BYTES
        env["MAX_UPLOAD_SIZE"] = str(max_upload_size)

        started = time.perf_counter()
        shutil.copyfile(video, workdir / "copy.avi")
        copy_seconds = time.perf_counter() - started
        (workdir / "copy.avi").unlink()

        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        create_user = (
            "from accounts.models import User; "
            f"User.objects.create_user('bench@example.com', '{PASSWORD}')"
        )
        subprocess.run([*manage, "shell", "-c", create_user], env=env, check=True)

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            _server_command(args.server, port), cwd=BASE_DIR, env=env, start_new_session=True
        )
        try:
            _wait_until_up(f"{base}/api/health", server)
            token = requests.post(
                f"{base}/api/v1/auth/login",
                json={"email": "bench@example.com", "password": PASSWORD},
                timeout=10,
            ).json()["data"]["token"]
            baseline, baseline_tree = _rss_kib(server.pid)
            peak, peak_tree = baseline, baseline_tree
            done = threading.Event()

            def sample() -> None:
                nonlocal peak, peak_tree
                while not done.is_set():
                    own, tree = _rss_kib(server.pid)
                    peak, peak_tree = max(peak, own), max(peak_tree, tree)
                    time.sleep(MEMORY_SAMPLE_SECONDS)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            with video.open("rb") as handle:
                body = MultipartEncoder({"media": ("bench.avi", handle, "video/x-msvideo")})
                if body.len > max_upload_size:
                    raise SystemExit(
                        f"the {body.len}-byte body would exceed MAX_UPLOAD_SIZE={max_upload_size}"
                    )
                started = time.perf_counter()
                try:
                    response = requests.post(
                        f"{base}/api/v1/media",
                        data=body,
                        headers={
                            "Content-Type": body.content_type,
                            "Authorization": f"Bearer {token}",
                        },
                        timeout=600,
                    )
                except requests.RequestException as exc:
                    # A server that refuses the body early may close the socket mid-send.
                    raise SystemExit(f"FAILED: the upload got no answer: {exc}") from exc
                upload_seconds = time.perf_counter() - started
            done.set()
            sampler.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    mib = size / (1024 * 1024)
    try:
        message = response.json().get("message")
    except ValueError:
        message = response.text[:200]
    print(f"server:              {args.server}")
    print(f"file:                {mib:,.0f} MiB raw AVI (MAX_UPLOAD_SIZE {max_upload_size} bytes)")
    print(f"answer:              {response.status_code} {message}")
    print(f"web RSS before:      {baseline / 1024:,.1f} MiB (server process)")
    print(f"web RSS peak:        {peak / 1024:,.1f} MiB (server process)")
    growth = (peak - baseline) / 1024
    print(f"growth during upload: {growth:,.1f} MiB ({growth / mib:.1%} of the file)")
    print(
        f"with child processes: {baseline_tree / 1024:,.1f} MiB before, "
        f"{peak_tree / 1024:,.1f} MiB peak (server and its ffprobe/ffmpeg runs together)"
    )
    print(f"upload:              {upload_seconds:.2f} s, {mib / upload_seconds:,.0f} MiB/s")
    print(f"plain disk copy:     {copy_seconds:.2f} s, {mib / copy_seconds:,.0f} MiB/s")
    if response.status_code != 202:
        raise SystemExit(
            f"FAILED: the upload answered {response.status_code}, not 202, so the figures above"
            " do not measure an accepted upload"
        )
    if args.max_growth_mib is not None and growth > args.max_growth_mib:
        raise SystemExit(
            f"FAILED: the web server process grew by {growth:,.1f} MiB during the upload,"
            f" more than --max-growth-mib {args.max_growth_mib:g}"
        )


if __name__ == "__main__":
    main()
