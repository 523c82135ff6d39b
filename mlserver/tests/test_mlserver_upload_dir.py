"""The real server's upload directory: nothing left behind, even by a server killed mid-request.

Each test starts ``python -m mlserver`` on a directory of its own (``MLSERVER_TEMP_DIR``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mlserver.app import create_app
from mlserver.config import Settings
from mlserver.uploads import UPLOAD_PREFIX
from tests.server_process import SERVER_STOP_TIMEOUT_SECONDS, mlserver_process

API_KEY = "upload-dir-test-key"
# Bounds on waiting for something that must happen; the tests assert what happened, not when.
WAIT_TIMEOUT_SECONDS = 60.0
POLL_INTERVAL_SECONDS = 0.05
REQUEST_TIMEOUT_SECONDS = 60.0
# How long the server would wait on the unresponsive progress-event peer: longer than the test.
HUNG_PUBLISH_SECONDS = 600


@contextmanager
def running_server(upload_dir: Path, **environment: str) -> Iterator[tuple[str, subprocess.Popen]]:
    with mlserver_process(
        MLSERVER_API_KEY=API_KEY, MLSERVER_TEMP_DIR=str(upload_dir), **environment
    ) as server:
        yield server


def uploads_in(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{UPLOAD_PREFIX}*"))


def exited_pid() -> int:
    """The pid of a process that has finished (and been reaped)."""
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def post(url: str, name: str, content: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{url}/analyze",
        headers={"X-API-Key": API_KEY},
        files={"media": (name, content)},
        data=fields,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def test_start_up_removes_only_uploads_of_stopped_servers(tmp_path: Path) -> None:
    upload_dir = tmp_path / "uploads"
    upload_dir.mkdir()
    stale = upload_dir / f"{UPLOAD_PREFIX}{exited_pid()}-abc123.mp4"
    stale.write_bytes(b"left by a killed server")
    # Written just now by a process still running (this one): another server's upload in use.
    in_use = upload_dir / f"{UPLOAD_PREFIX}{os.getpid()}-def456.wav"
    in_use.write_bytes(b"still being read")
    unrelated = upload_dir / "notes.txt"
    unrelated.write_text("not the server's")
    with running_server(upload_dir):
        assert uploads_in(upload_dir) == [in_use]
        assert unrelated.exists()


def test_every_request_removes_its_upload_whatever_the_answer(
    tmp_path: Path, pink_jpeg: Path, pink_png: Path
) -> None:
    upload_dir = tmp_path / "uploads"
    with running_server(upload_dir) as (url, _):
        answers = [
            post(url, pink_jpeg.name, pink_jpeg.read_bytes(), model="ELA-JPEG-V1"),
            # A PNG named .jpg: stored, then refused by the detector.
            post(url, "disguised.jpg", pink_png.read_bytes(), model="ELA-JPEG-V1"),
            post(url, "clip.mp4", b"no container at all", model="TEMPORAL-CONSISTENCY-V1"),
            post(url, "empty.png", b"", model="FREQUENCY-SPECTRUM-V1"),
        ]
        assert [answer.status_code for answer in answers] == [200, 422, 415, 400]
        assert uploads_in(upload_dir) == []
    assert upload_dir.stat().st_mode & 0o777 == 0o700


@contextmanager
def unresponsive_peer() -> Iterator[str]:
    """A port that completes connections and never answers: a hung Redis, as a client sees it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        host, port = listener.getsockname()
        yield f"redis://{host}:{port}/0"


def test_uploads_of_a_server_killed_mid_request_are_removed_at_the_next_start(
    tmp_path: Path, voice_wav: Path
) -> None:
    upload_dir = tmp_path / "uploads"
    with unresponsive_peer() as hung_redis:
        settings = {
            "MLSERVER_REDIS_URL": hung_redis,
            "MLSERVER_REDIS_TIMEOUT_SECONDS": str(HUNG_PUBLISH_SECONDS),
        }
        with running_server(upload_dir, **settings) as (url, process):
            # The analysis blocks on its first progress event, with the upload on disk.
            outcome: dict[str, BaseException] = {}

            def analyse() -> None:
                try:
                    post(url, voice_wav.name, voice_wav.read_bytes(), model="AUDIO-SPECTRUM-V1",
                         mediaId="m-1", userId="u-1")  # fmt: skip
                except httpx.TransportError as exc:
                    outcome["error"] = exc

            request = threading.Thread(target=analyse)
            request.start()
            deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
            while not uploads_in(upload_dir):
                assert time.monotonic() < deadline, "the upload never reached the directory"
                time.sleep(POLL_INTERVAL_SECONDS)
            (leaked,) = uploads_in(upload_dir)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(SERVER_STOP_TIMEOUT_SECONDS)
            request.join(REQUEST_TIMEOUT_SECONDS)
            assert isinstance(outcome.get("error"), httpx.TransportError)
            assert leaked.exists(), "a killed server cannot delete its upload"
    with running_server(upload_dir):
        assert not leaked.exists()
        assert uploads_in(upload_dir) == []


def test_a_symlinked_upload_dir_stops_start_up(tmp_path: Path) -> None:
    # A planted link could point uploads, and start-up deletions, at someone else's directory.
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "uploads"
    link.symlink_to(target)
    with pytest.raises(RuntimeError, match="not a directory owned by this user"):
        create_app(Settings(temp_dir=link))
