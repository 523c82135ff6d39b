"""The container entrypoint: waits for the database, migrates, and never resets data."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
import yaml
from django.conf import settings
from django.db import connection

from drishtiksha.runner import BASE_DIR
from tests.fixtures.servers import stop_process_group

ENTRYPOINT = BASE_DIR / "docker" / "entrypoint.sh"
# The image copies the tree to /app (Dockerfile WORKDIR); here it is the checkout.
IMAGE_APP_DIR = "/app/"
WEB_START_TIMEOUT_SECONDS = 120.0


def _run(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _base_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(PYTHON=sys.executable, DATABASE_URL=database_url, DJANGO_ENV="development")
    return env


def _server_dsn(dbname: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{dbname}"


@pytest.fixture
def scratch_database():
    """A throwaway PostgreSQL database, outside the test database, for the entrypoint to migrate."""
    if connection.vendor != "postgresql":
        pytest.fail("the entrypoint test needs PostgreSQL (make test provides it)")
    name = f"entrypoint_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_server_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_dsn(name)
    finally:
        with psycopg.connect(_server_dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_gives_up_with_a_clear_message_when_the_database_never_answers():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    env = _base_env(f"postgres://postgres@127.0.0.1:{closed_port}/nothing")
    env["DB_WAIT_SECONDS"] = "2"

    result = _run("manage", "check", env=env, timeout=60)

    assert result.returncode != 0
    assert "database still unreachable" in result.stderr


def test_migrates_and_keeps_existing_data_on_every_start(scratch_database):
    env = _base_env(scratch_database)
    env["RUN_MIGRATIONS"] = "1"

    first = _run("manage", "showmigrations", "media_analysis", env=env)
    assert first.returncode == 0, first.stderr
    assert "[X] 0001_initial" in first.stdout

    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO accounts_user (id, email, password, first_name, last_name, role,"
            " is_active, is_superuser, created_at, updated_at)"
            " VALUES (%s, 'keep@example.com', '!', '', '', 'USER', true, false, now(), now())",
            (uuid.uuid4(),),
        )

    second = _run("manage", "check", env=env)
    assert second.returncode == 0, second.stderr

    with psycopg.connect(scratch_database) as conn:
        count = conn.execute(
            "SELECT count(*) FROM accounts_user WHERE email = 'keep@example.com'"
        ).fetchone()[0]
    assert count == 1


def test_other_roles_do_not_migrate(scratch_database):
    env = _base_env(scratch_database)

    result = _run("manage", "showmigrations", "accounts", env=env)

    assert result.returncode == 0, result.stderr
    assert "[ ] 0001_initial" in result.stdout


def test_runs_an_arbitrary_command_without_touching_the_database():
    env = _base_env("postgres://postgres@127.0.0.1:1/never")

    result = _run("echo", "hello from the container", env=env)

    assert result.returncode == 0
    assert result.stdout.strip() == "hello from the container"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dockerfile_health_check() -> list[str]:
    text = (BASE_DIR / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$", text, re.MULTILINE)
    assert match, "the Dockerfile has no exec-form HEALTHCHECK CMD"
    return json.loads(match.group(1))


def _compose_web_health_check() -> list[str]:
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    test = compose["services"]["web"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return test[1:]


def _as_in_the_image(command: list[str]) -> list[str]:
    return [
        sys.executable if arg == "python" else arg.replace(IMAGE_APP_DIR, f"{BASE_DIR}/")
        for arg in command
    ]


def test_web_role_migrates_by_default_and_passes_its_health_checks_in_production(
    scratch_database, tmp_path
):
    """`entrypoint.sh web` as the container runs it: production settings, no RUN_MIGRATIONS."""
    port = _free_port()
    env = _base_env(scratch_database)
    for name in ("RUN_MIGRATIONS", "FORWARDED_ALLOW_IPS", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="e" * 20 + "-entrypoint-test-only-secret-key-0123456789abcdef",
        # Only the public name: the health checks must not rely on 127.0.0.1 being allowed.
        DJANGO_ALLOWED_HOSTS="drishtiksha.example",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://drishtiksha.example",
        REDIS_URL=settings.REDIS_URL,
        DRISHTIKSHA_VAR_DIR=str(tmp_path),
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
    )
    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen(
        ["bash", str(ENTRYPOINT), "web"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    liveness = _as_in_the_image(_dockerfile_health_check())
    readiness = _as_in_the_image(_compose_web_health_check())
    try:
        deadline = time.monotonic() + WEB_START_TIMEOUT_SECONDS
        while True:
            assert web.poll() is None, Path(log.name).read_text()
            check = subprocess.run(liveness, env=env, capture_output=True, text=True, timeout=30)
            if check.returncode == 0:
                break
            # Until uvicorn listens the check cannot connect; any HTTP answer but 200 is final.
            assert "HTTP" not in check.stderr, check.stderr
            assert time.monotonic() < deadline, check.stderr + Path(log.name).read_text()
            time.sleep(0.5)

        ready = subprocess.run(readiness, env=env, capture_output=True, text=True, timeout=30)
        assert ready.returncode == 0, ready.stderr

        # Production settings really are in force: anything but the health paths goes to https.
        other = requests.get(
            f"http://127.0.0.1:{port}/api/v1/media",
            headers={"Host": "drishtiksha.example"},
            allow_redirects=False,
            timeout=5,
        )
        assert other.status_code == 301
        assert other.headers["Location"] == "https://drishtiksha.example/api/v1/media"

        # The entrypoint exec'd uvicorn, trusting forwarded headers from loopback only.
        argv = Path(f"/proc/{web.pid}/cmdline").read_bytes().decode().split("\0")
        assert "uvicorn" in argv and "--proxy-headers" in argv
        assert argv[argv.index("--forwarded-allow-ips") + 1] == "127.0.0.1"
    finally:
        stop_process_group(web, grace_seconds=15)
        log.close()

    # The web role migrated without being asked to.
    with psycopg.connect(scratch_database) as conn:
        applied = conn.execute(
            "SELECT count(*) FROM django_migrations WHERE app = 'media_analysis'"
        ).fetchone()[0]
    assert applied > 0
