"""Upload benchmark: does a large upload keep the web process's memory flat, and how fast is it?

Starts the real web server (uvicorn or daphne) on a throwaway SQLite database, streams a large
real video (raw frames in AVI, made with ffmpeg) to `POST /api/v1/media`, samples the server's
resident memory while it does, and compares the upload's throughput with a plain disk copy of
the same file.

    .venv/bin/python bench/upload.py                     # 300 MB through uvicorn
    .venv/bin/python bench/upload.py --server daphne     # the same through daphne
    .venv/bin/python bench/upload.py --size-mb 1024

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn/daphne may fork), in KiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


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
    return [sys.executable, "-m", "uvicorn", "drishtiksha.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip


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
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="drishtiksha-bench-upload-"))
    env = {
        **os.environ,
        "DRISHTIKSHA_VAR_DIR": str(workdir / "var"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"),
        "ML_SERVER_URL": "http://127.0.0.1:9",  # no inference server: the run simply waits
        "MAX_UPLOAD_SIZE": str((args.size_mb + 64) * 1024 * 1024),
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
            baseline = _rss_kib(server.pid)
            peak = baseline
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, _rss_kib(server.pid))
                    time.sleep(MEMORY_SAMPLE_SECONDS)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            with video.open("rb") as handle:
                body = MultipartEncoder({"media": ("bench.avi", handle, "video/x-msvideo")})
                started = time.perf_counter()
                response = requests.post(
                    f"{base}/api/v1/media",
                    data=body,
                    headers={
                        "Content-Type": body.content_type,
                        "Authorization": f"Bearer {token}",
                    },
                    timeout=600,
                )
                upload_seconds = time.perf_counter() - started
            done.set()
            sampler.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    mib = size / (1024 * 1024)
    print(f"server:              {args.server}")
    print(f"file:                {mib:,.0f} MiB raw AVI")
    print(f"answer:              {response.status_code} {response.json().get('message')}")
    print(f"web RSS before:      {baseline / 1024:,.1f} MiB")
    print(f"web RSS peak:        {peak / 1024:,.1f} MiB")
    growth = (peak - baseline) / 1024
    print(f"growth during upload: {growth:,.1f} MiB ({growth / mib:.1%} of the file)")
    print(f"upload:              {upload_seconds:.2f} s, {mib / upload_seconds:,.0f} MiB/s")
    print(f"plain disk copy:     {copy_seconds:.2f} s, {mib / copy_seconds:,.0f} MiB/s")


if __name__ == "__main__":
    main()
