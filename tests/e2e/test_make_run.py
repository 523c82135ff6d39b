"""`make run` on a fresh checkout with nothing configured: every process comes up and answers.

This starts the real runner (SQLite file, embedded Redis, web server, worker, beat and the
reference inference server) in a temporary directory, exactly as a newcomer would get it. The web
server of its plan is also started alone, on the test database, to see whose address it believes;
and the runner is started with a port already taken, to see it refuse before anything starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from drishtiksha import runner
from drishtiksha.runner import BASE_DIR
from tests.fixtures.pipeline import _test_database_url
from tests.fixtures.servers import stop_process_group

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
        # A ping waits its whole timeout for replies, even once the worker has answered; a short
        # one is asked again until the deadline.
        while True:
            ping = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "drishtiksha", "inspect", "ping", "-t", "1"],
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

        # The logged pids are the services themselves, exec'd without a shell in between.
        services = _logged_pids(log_path)
        assert set(services) == {"redis", "mlserver", "web", "worker", "beat", "relay"}
        for name, pid in services.items():
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            assert Path(argv[0]).name not in {"sh", "bash", "dash"}, (name, argv)
        assert "uvicorn" in _cmdline(services["web"])
        assert "worker" in _cmdline(services["worker"])
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
    # Each service led a process group of its own (with what it forked, e.g. Celery's pool).
    for name, pid in services.items():
        assert _group_is_gone(pid, deadline=time.monotonic() + SHUTDOWN_TIMEOUT_SECONDS), (
            f"{name} (or what it forked) is still running after Ctrl-C"
        )


def _logged_pids(log_path: Path) -> dict[str, int]:
    log = log_path.read_text(errors="replace")
    return {name: int(pid) for name, pid in re.findall(r"\| (\w+) started with pid (\d+)", log)}


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")


def _group_is_gone(group: int, *, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not _live_members(group):
            return True
        time.sleep(0.2)
    return False


def _live_members(group: int) -> list[int]:
    """Pids of the live processes of a process group; zombies awaiting their reaper are dead."""
    members = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state != "Z":
            members.append(int(stat_path.parent.name))
    return members


def _listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize(
    ("variable", "advice"),
    [
        (
            "EMBEDDED_REDIS_PORT",
            "set EMBEDDED_REDIS_PORT to a free port or REDIS_URL to a running Redis",
        ),
        ("PORT", "set PORT to a free port (is Drishtiksha already running?)"),
    ],
)
def test_a_taken_port_is_named_before_anything_starts(tmp_path, variable, advice):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "ML_SERVER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DRISHTIKSHA_VAR_DIR=str(tmp_path / "var"),
        PORT=str(_free_port()),
        EMBEDDED_REDIS_PORT=str(_free_port()),
        MLSERVER_PORT=str(_free_port()),
    )
    with _listening_socket() as occupant:
        port = occupant.getsockname()[1]
        env[variable] = str(port)
        result = subprocess.run(
            [sys.executable, "-m", "drishtiksha.runner"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_SECONDS,
        )

    assert result.returncode != 0
    assert f"port {port} is taken; {advice}" in result.stderr
    assert "open http" not in result.stdout
    assert not (tmp_path / "var" / "db.sqlite3").exists(), "it migrated before refusing"


LOGIN_FAILURE_LIMIT = 3
FORGED_ADDRESSES = [f"203.0.113.{host}" for host in range(1, LOGIN_FAILURE_LIMIT + 1)]


@pytest.fixture
def planned_web_server(transactional_db, settings, tmp_path) -> Iterator[Callable[..., str]]:
    """Start the web process of the runner's plan, on the test database and Redis.

    Its cache keys get a prefix of their own, so its login-failure counters start at zero and
    are deleted afterwards without touching anything else in the Redis database.
    """
    prefix = f"test-{uuid.uuid4().hex}"
    processes: list[subprocess.Popen] = []

    def start(**configured: str) -> str:
        port = _free_port()
        environ = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "ML_SERVER_URL": "http://127.0.0.1:9",  # configured, so no reference server is planned
            "DRISHTIKSHA_VAR_DIR": str(tmp_path / "var"),
            "PORT": str(port),
            "LOGIN_FAILURE_LIMIT": str(LOGIN_FAILURE_LIMIT),
            **configured,
        }
        plan = runner.build_plan(environ)
        process = subprocess.Popen(
            plan.processes["web"], cwd=BASE_DIR, env=plan.env, start_new_session=True
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, f"the web server exited with {process.returncode}"
            try:
                if requests.get(f"{url}/api/health", timeout=1).status_code == 200:
                    return url
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.monotonic() < deadline, "the web server did not answer in time"
            time.sleep(0.2)

    yield start
    for process in processes:
        stop_process_group(process)
    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(match=f"{prefix}:*"))
    if stale:
        client.delete(*stale)


def _failed_login(url: str, email: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = requests.post(
        f"{url}/api/v1/auth/login",
        json={"email": email, "password": "not-the-password"},
        headers=headers,
        timeout=30,
    )
    return response.status_code


def test_a_forged_forwarded_address_does_not_escape_the_login_lockout(planned_web_server):
    url = planned_web_server()
    email = f"target-{uuid.uuid4().hex[:8]}@example.com"

    statuses = [_failed_login(url, email, forged) for forged in FORGED_ADDRESSES]
    # Every failure above counted against the socket's address, 127.0.0.1, whatever the header
    # claimed: a fresh forged address and no header at all are both locked out with it.
    statuses.append(_failed_login(url, email, "203.0.113.9"))
    statuses.append(_failed_login(url, email))

    assert statuses == [401] * LOGIN_FAILURE_LIMIT + [429, 429]


def test_forwarded_addresses_count_when_the_proxy_sending_them_is_configured(planned_web_server):
    url = planned_web_server(FORWARDED_ALLOW_IPS="127.0.0.1")
    email = f"target-{uuid.uuid4().hex[:8]}@example.com"

    statuses = [_failed_login(url, email, FORGED_ADDRESSES[0]) for _ in FORGED_ADDRESSES]
    statuses.append(_failed_login(url, email, FORGED_ADDRESSES[0]))
    statuses.append(_failed_login(url, email, "203.0.113.9"))

    # The proxy's word is taken: the address it names is locked out, another one is not.
    assert statuses == [401] * LOGIN_FAILURE_LIMIT + [429, 401]
