"""`make run` on a fresh checkout with nothing configured: every process comes up and answers.

This starts the real runner (SQLite file, embedded Redis, web server, worker, beat and the
reference inference server) in a temporary directory, exactly as a newcomer would get it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from drishtiksha.runner import BASE_DIR

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT_SECONDS = 90
SHUTDOWN_TIMEOUT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_for(url: str, deadline: float, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            status, body = _get(url, headers)
            if status == 200:
                return status, body
        except (OSError, ValueError) as exc:
            last_error = exc
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 in time (last error: {last_error})")


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def fresh_system(tmp_path: Path):
    ports = {"web": _free_port(), "redis": _free_port(), "ml": _free_port()}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "ML_SERVER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DRISHTIKSHA_VAR_DIR=str(tmp_path / "var"),
        PORT=str(ports["web"]),
        EMBEDDED_REDIS_PORT=str(ports["redis"]),
        MLSERVER_PORT=str(ports["ml"]),
        ML_SERVER_API_KEY="e2e-key",
        CELERY_WORKER_CONCURRENCY="2",
    )
    log_path = tmp_path / "runner.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "drishtiksha.runner"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process, ports, env, log_path
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_fresh_checkout_starts_every_process_and_stops_on_interrupt(fresh_system):
    process, ports, env, log_path = fresh_system
    base = f"http://127.0.0.1:{ports['web']}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS

    try:
        status, body = _wait_for(f"{base}/api/health", deadline)
        assert body["data"]["status"] == "ok"

        status, body = _wait_for(f"{base}/readyz", deadline)
        assert body["data"]["checks"]["database"]["ok"] is True
        assert body["data"]["checks"]["redis"]["ok"] is True

        _, pong = _wait_for(f"http://127.0.0.1:{ports['ml']}/ping", deadline)
        assert pong == {"status": "pong"}
        _, stats = _wait_for(
            f"http://127.0.0.1:{ports['ml']}/stats", deadline, headers={"X-API-Key": "e2e-key"}
        )
        assert stats["models_info"], "the reference inference server reports no models"

        inspect_env = dict(env, REDIS_URL=f"redis://127.0.0.1:{ports['redis']}/0")
        while True:
            ping = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "drishtiksha", "inspect", "ping", "-t", "5"],
                cwd=BASE_DIR,
                env=inspect_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if "pong" in ping.stdout or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "pong" in ping.stdout, ping.stdout + ping.stderr

        assert (Path(env["DRISHTIKSHA_VAR_DIR"]) / "db.sqlite3").exists()
    except AssertionError:
        print(log_path.read_text(errors="replace")[-5000:])
        raise

    # Ctrl-C in the terminal sends SIGINT to the whole foreground process group.
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    for port in ports.values():
        assert _port_is_closed(port), f"port {port} still open after shutdown"
    # The worker, beat and relay have no port to check: no process of the group may be left.
    assert _group_is_gone(process.pid, deadline=time.monotonic() + SHUTDOWN_TIMEOUT_SECONDS), (
        "processes of the system are still running after Ctrl-C"
    )


def _group_is_gone(group: int, *, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False
