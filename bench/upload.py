"""Upload benchmark: does a large upload keep the web process's memory flat, and how fast is it?

Starts the real web server (uvicorn as `make run` starts it, or daphne) on a throwaway SQLite
database, streams a large real video (raw frames in AVI, made with ffmpeg) to `POST /api/v1/media`,
samples the server's resident memory while it does, and compares the upload's throughput with a
`cp` of the same file measured in the same run. The server's MAX_UPLOAD_SIZE is raised to fit the
file, so the body limit in front of Django lets it through.

Before the upload it times the stages on their own, so a slow upload can be put down to one of
them: `cp`, SHA-256 in Python, and the client alone (the multipart body sent into a socket that
discards it). During the upload it reads the server's /proc/<pid>/io and CPU time: the bytes the
server wrote, against the file's size, show whether the body was written to disk once or twice.

The default client sends a prebuilt multipart head, then the file with sendfile(2), then the
closing boundary, so the figures measure the server; `--client toolbelt` uses requests with
requests_toolbelt's MultipartEncoder instead, which is itself slower than the server.

    .venv/bin/python bench/upload.py                     # 300 MB through uvicorn
    .venv/bin/python bench/upload.py --server daphne     # the same through daphne
    .venv/bin/python bench/upload.py --size-mb 1024 --max-growth-mib 50 --min-ratio 0.7

Exits non-zero unless the upload answered 202 (a 413 or 415 would otherwise look like a flat, fast
upload), with --max-growth-mib when the web server process grew by more than that, and with
--min-ratio when the upload was slower than that fraction of `cp`.

Needs ffmpeg and a Redis (REDIS_URL, default redis://127.0.0.1:6379/6).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
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
MIB = 1024 * 1024
HASH_CHUNK_BYTES = 1024 * 1024
BOUNDARY = "drishtiksha-bench-boundary-7f3a9c"
TARGET_RATIO = 0.7  # of `cp` throughput
TARGET_GROWTH_MIB = 50.0


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


def _proc_io(pid: int) -> dict[str, int]:
    """The server's I/O counters: rchar/wchar (every read/write call) and write_bytes (to disk)."""
    fields = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value)
    return fields


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the server process (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed_cp(source: Path, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def _timed_sha256(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return time.perf_counter() - started


def _multipart_parts(filename: str) -> tuple[bytes, bytes]:
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="media"; filename="{filename}"\r\n'
        "Content-Type: video/x-msvideo\r\n\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def _send_file_body(sock: socket.socket, head: bytes, path: Path, tail: bytes) -> None:
    sock.sendall(head)
    with path.open("rb") as handle:
        sock.sendfile(handle)
    sock.sendall(tail)


def _timed_client_alone(path: Path, client: str) -> float:
    """How long the client takes to send the body into a socket that only discards it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def discard() -> None:
        conn, _ = listener.accept()
        with conn:
            while conn.recv_into(buffer):
                pass

    buffer = bytearray(4 * MIB)
    sink = threading.Thread(target=discard, daemon=True)
    sink.start()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        if client == "toolbelt":
            with path.open("rb") as handle:
                body = MultipartEncoder({"media": (path.name, handle, "video/x-msvideo")})
                # What requests does with an encoder: read() it in blocks and send each.
                while block := body.read(8192):
                    sock.sendall(block)
        else:
            head, tail = _multipart_parts(path.name)
            _send_file_body(sock, head, path, tail)
        sock.shutdown(socket.SHUT_WR)
        sink.join()
    listener.close()
    return time.perf_counter() - started


class UploadTiming:
    sent_seconds = 0.0  # first byte out → last byte of the body handed to the kernel
    total_seconds = 0.0  # first byte out → the whole answer read


def _upload_sendfile(base: str, token: str, path: Path, timing: UploadTiming):
    host, port = base.removeprefix("http://").split(":")
    head, tail = _multipart_parts(path.name)
    length = len(head) + path.stat().st_size + len(tail)
    request = (
        "POST /api/v1/media HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=600) as sock:
        started = time.perf_counter()
        _send_file_body(sock, request + head, path, tail)
        timing.sent_seconds = time.perf_counter() - started
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        timing.total_seconds = time.perf_counter() - started
    return response.status, body


def _upload_toolbelt(base: str, token: str, path: Path, timing: UploadTiming):
    with path.open("rb") as handle:
        body = MultipartEncoder({"media": (path.name, handle, "video/x-msvideo")})
        started = time.perf_counter()
        response = requests.post(
            f"{base}/api/v1/media",
            data=body,
            headers={"Content-Type": body.content_type, "Authorization": f"Bearer {token}"},
            timeout=600,
        )
        timing.total_seconds = timing.sent_seconds = time.perf_counter() - started
    return response.status_code, response.content


def _start_profiler(pid: int, output: Path) -> subprocess.Popen:
    py_spy = Path(sys.executable).with_name("py-spy")
    profiler = subprocess.Popen(
        [str(py_spy), "record", "-p", str(pid), "-f", "raw", "-o", str(output), "--threads",
         "--idle", "--nonblocking", "-r", "250"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1)  # py-spy attaches before the upload starts
    return profiler


def _rate(mib: float, seconds: float) -> str:
    return f"{seconds:6.2f} s  {mib / seconds:7,.0f} MiB/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--client", choices=["sendfile", "toolbelt"], default="sendfile")
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        help="exit non-zero when the web server process grew by more than this many MiB",
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        help="exit non-zero when the upload reached less than this fraction of cp's throughput",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy during the upload into this file (raw, folded stacks)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="drishtiksha-bench-upload-"))
    env = {
        **os.environ,
        # The upload's temporary file goes where the settings put it by default, as in production.
        "DRISHTIKSHA_VAR_DIR": str(workdir / "var"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"),
        "ML_SERVER_URL": "http://127.0.0.1:9",  # no inference server: the run simply waits
        "API_UPLOAD_THROTTLE_RATE": "1000/hour",
        "DJANGO_DEBUG": "0",
    }
    env.pop("DATABASE_URL", None)
    env.pop("FILE_UPLOAD_TEMP_DIR", None)
    env.pop("MEDIA_ROOT", None)
    try:
        video = workdir / "bench.avi"
        print(f"making a {args.size_mb} MB raw video ...", flush=True)
        _make_video(video, args.size_mb)
        size = video.stat().st_size
        mib = size / MIB
        # Set over whatever the caller's environment says: the default (500 MiB) would refuse a
        # 1 GiB body with 413 before Django saw it.
        max_upload_size = size + UPLOAD_LIMIT_HEADROOM_BYTES
        env["MAX_UPLOAD_SIZE"] = str(max_upload_size)

        print("timing the stages on their own ...", flush=True)
        copy_seconds = _timed_cp(video, workdir / "copy.avi")
        sha_seconds = _timed_sha256(video)
        client_seconds = _timed_client_alone(video, args.client)
        other_client = "toolbelt" if args.client == "sendfile" else "sendfile"
        other_client_seconds = _timed_client_alone(video, other_client)

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

            head, tail = _multipart_parts(video.name)
            if len(head) + size + len(tail) > max_upload_size:
                raise SystemExit(f"the body would exceed MAX_UPLOAD_SIZE={max_upload_size}")
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            io_before, cpu_before = _proc_io(server.pid), _cpu_seconds(server.pid)
            timing = UploadTiming()
            profiler = _start_profiler(server.pid, args.profile) if args.profile else None
            upload = _upload_sendfile if args.client == "sendfile" else _upload_toolbelt
            try:
                status, answer = upload(base, token, video, timing)
            except (OSError, requests.RequestException) as exc:
                # A server that refuses the body early may close the socket mid-send.
                raise SystemExit(f"FAILED: the upload got no answer: {exc}") from exc
            io_after, cpu_after = _proc_io(server.pid), _cpu_seconds(server.pid)
            if profiler:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
            done.set()
            sampler.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    try:
        message = json.loads(answer).get("message")
    except ValueError:
        message = answer[:200].decode(errors="replace")
    upload_seconds = timing.total_seconds
    ratio = copy_seconds / upload_seconds
    growth = (peak - baseline) / 1024
    written = io_after["wchar"] - io_before["wchar"]
    to_disk = io_after["write_bytes"] - io_before["write_bytes"]
    read = io_after["rchar"] - io_before["rchar"]
    cpu = cpu_after - cpu_before
    print(f"server:              {args.server}, client: {args.client}")
    print(f"file:                {mib:,.0f} MiB raw AVI (MAX_UPLOAD_SIZE {max_upload_size} bytes)")
    print(f"answer:              {status} {message}")
    print("stages on their own (same file, same run):")
    print(f"  cp                           {_rate(mib, copy_seconds)}")
    print(f"  SHA-256 in Python            {_rate(mib, sha_seconds)}")
    print(f"  client alone ({args.client + ')':10s}      {_rate(mib, client_seconds)}")
    print(f"  client alone ({other_client + ')':10s}      {_rate(mib, other_client_seconds)}")
    print("the upload, through the server:")
    print(f"  body sent                    {_rate(mib, timing.sent_seconds)}")
    print(
        f"  body sent → answer           {upload_seconds - timing.sent_seconds:6.2f} s"
        "  (the rest of the body parsed, the file stored, the rows written)"
    )
    print(f"  server read calls            {read / size:6.2f} × the file")
    print(f"  server write calls           {written / size:6.2f} × the file")
    print(f"  server writes to disk        {to_disk / size:6.2f} × the file")
    print(f"  server CPU                   {cpu:6.2f} s ({cpu / upload_seconds:.0%} of one core)")
    print(f"web RSS before:      {baseline / 1024:,.1f} MiB (server process)")
    print(f"web RSS peak:        {peak / 1024:,.1f} MiB (server process)")
    print(
        f"with child processes: {baseline_tree / 1024:,.1f} MiB before, "
        f"{peak_tree / 1024:,.1f} MiB peak (server and its ffprobe/ffmpeg runs together)"
    )
    print(f"upload:              {_rate(mib, upload_seconds)}")
    print(f"cp:                  {_rate(mib, copy_seconds)}")
    print(f"upload / cp:         {ratio:.2f}×  (target ≥ {TARGET_RATIO:g}×)")
    print(
        f"web RSS growth:      {growth:,.1f} MiB ({growth / mib:.1%} of the file;"
        f" target < {TARGET_GROWTH_MIB:g} MiB)"
    )
    if status != 202:
        raise SystemExit(
            f"FAILED: the upload answered {status}, not 202, so the figures above"
            " do not measure an accepted upload"
        )
    if args.max_growth_mib is not None and growth > args.max_growth_mib:
        raise SystemExit(
            f"FAILED: the web server process grew by {growth:,.1f} MiB during the upload,"
            f" more than --max-growth-mib {args.max_growth_mib:g}"
        )
    if args.min_ratio is not None and ratio < args.min_ratio:
        raise SystemExit(
            f"FAILED: the upload reached {ratio:.2f}× cp's throughput,"
            f" less than --min-ratio {args.min_ratio:g}"
        )


if __name__ == "__main__":
    main()
