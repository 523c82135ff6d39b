"""The real server as a subprocess, for the tests that speak to it over TCP.

A module of its own rather than part of ``conftest.py``: test modules import it, and a conftest
is not meant to be imported.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

# The distribution's folder (pyproject.toml, src/, tests/): the server runs from here as the
# installed package, so nothing in the working directory can stand in for it.
PROJECT_DIR = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_SECONDS = 30.0
SERVER_STOP_TIMEOUT_SECONDS = 10.0
SERVER_POLL_SECONDS = 0.05


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mlserver_process(**environment: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m mlserver` on a free port with `environment` added (and no Redis), once it
    answers /ping; stopped when the block ends, killed if a hung request keeps it from stopping."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MLSERVER_REDIS_URL")},
        "MLSERVER_HOST": "127.0.0.1",
        "MLSERVER_PORT": str(port),
        "MLSERVER_LOG_LEVEL": "warning",
        **environment,
    }
    process = subprocess.Popen([sys.executable, "-m", "mlserver"], cwd=PROJECT_DIR, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, "the server exited during start-up"
            try:
                if httpx.get(f"{url}/ping").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(SERVER_POLL_SECONDS)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(SERVER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            # A graceful stop waits for requests in flight, which a hung one never ends.
            process.kill()
            process.wait()
