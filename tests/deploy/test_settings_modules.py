"""Which settings module a process runs with: DJANGO_ENV picks it, pytest runs the test one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from drishtiksha.runner import BASE_DIR
from tests.deploy.test_production_settings import PRODUCTION_ENV

PRINT_SETTINGS = (
    "from django.conf import settings as s;"
    " print(s.SETTINGS_MODULE, s.DEBUG, s.AUTH_COOKIE_SECURE, s.LOG_FORMAT)"
)

# Every entry point a process starts through: each must choose the module from DJANGO_ENV itself.
ENTRY_POINTS = {
    "manage.py": ["manage.py", "shell", "-c", PRINT_SETTINGS],
    "asgi": ["-c", f"import drishtiksha.asgi; {PRINT_SETTINGS}"],
    "wsgi": ["-c", f"import drishtiksha.wsgi; {PRINT_SETTINGS}"],
    "celery": ["-c", f"import drishtiksha.celery; {PRINT_SETTINGS}"],
}


def _python(args: list[str], *, env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    """`python args` in the checkout with none of this process's Django settings, `env` on top."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "AUTH_COOKIE_"))
        and k not in {"DATABASE_URL", "REDIS_URL", "LOG_FORMAT"}
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**inherited, "DRISHTIKSHA_VAR_DIR": str(var_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings_line(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()


def test_pytest_runs_with_the_test_settings():
    # The `settings` fixture wraps the configured module, so look at what was loaded instead.
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "drishtiksha.settings.test"
    assert settings.configured and "drishtiksha.settings.test" in sys.modules
    assert "drishtiksha.settings.production" not in sys.modules


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_production_environment_gets_the_production_settings(entry_point, tmp_path):
    result = _python(ENTRY_POINTS[entry_point], env=PRODUCTION_ENV, var_dir=tmp_path)

    assert _settings_line(result) == ["drishtiksha.settings.production", "False", "True", "json"]


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_without_an_environment_the_development_settings_apply(entry_point, tmp_path):
    result = _python(ENTRY_POINTS[entry_point], env={}, var_dir=tmp_path)

    assert _settings_line(result) == ["drishtiksha.settings.development", "True", "False", "plain"]
    # Development generates its own secret key instead of needing one.
    assert (tmp_path / "dev-secret-key").read_text().strip()


def test_an_explicit_settings_module_wins_over_the_environment(tmp_path):
    env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "drishtiksha.settings.development"}

    result = _python(ENTRY_POINTS["manage.py"], env=env, var_dir=tmp_path)

    assert _settings_line(result)[0] == "drishtiksha.settings.development"


def test_an_unknown_environment_is_refused_rather_than_run_as_development(tmp_path):
    result = _python(ENTRY_POINTS["manage.py"], env={"DJANGO_ENV": "prod"}, var_dir=tmp_path)

    assert result.returncode != 0
    assert "DJANGO_ENV must be one of development, production, got 'prod'" in result.stderr


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        # Production marks cookies Secure by default, which SameSite=None needs...
        ({**PRODUCTION_ENV, "AUTH_COOKIE_SAMESITE": "None"}, False),
        # ...unless told not to, and development (plain http) does not by default.
        (
            {**PRODUCTION_ENV, "AUTH_COOKIE_SAMESITE": "None", "DJANGO_SECURE_COOKIES": "false"},
            True,
        ),
        ({"AUTH_COOKIE_SAMESITE": "None"}, True),
        ({"AUTH_COOKIE_SAMESITE": "None", "DJANGO_SECURE_COOKIES": "true"}, False),
    ],
)
def test_cross_site_auth_cookies_need_the_secure_flag_of_their_environment(env, refused, tmp_path):
    result = _python(ENTRY_POINTS["manage.py"], env=env, var_dir=tmp_path)

    if refused:
        assert result.returncode != 0
        assert "AUTH_COOKIE_SAMESITE=None needs Secure cookies" in result.stderr
    else:
        assert _settings_line(result)[2] == "True"
