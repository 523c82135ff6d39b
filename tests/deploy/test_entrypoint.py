"""The container entrypoint: waits for the database, migrates, and never resets data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.conf import settings

from drishtiksha.runner import BASE_DIR

ENTRYPOINT = BASE_DIR / "docker" / "entrypoint.sh"


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
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
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
