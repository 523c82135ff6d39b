"""Production settings: secure by default, secrets required, `check --deploy` clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from drishtiksha.runner import BASE_DIR

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "p" * 20 + "-production-only-secret-key-for-this-test-0123456789",
    "DJANGO_ALLOWED_HOSTS": "drishtiksha.example",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://drishtiksha.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/drishtiksha",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in {"DJANGO_SECRET_KEY", "REDIS_URL"}}

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "Production needs these set: DJANGO_SECRET_KEY, REDIS_URL" in result.stderr


def test_production_settings_values():
    probe = (
        "from django.conf import settings as s; import json; print(json.dumps({"
        "'debug': s.DEBUG, 'hsts': s.SECURE_HSTS_SECONDS, 'ssl': s.SECURE_SSL_REDIRECT,"
        "'session': s.SESSION_COOKIE_SECURE, 'csrf': s.CSRF_COOKIE_SECURE,"
        "'auth_cookie': s.AUTH_COOKIE_SECURE, 'log': s.LOG_FORMAT,"
        "'static': s.STORAGES['staticfiles']['BACKEND']}))"
    )

    result = _manage("shell", "-c", probe, env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "debug": False,
        "hsts": 31536000,
        "ssl": True,
        "session": True,
        "csrf": True,
        "auth_cookie": True,
        "log": "json",
        "static": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    }


def test_logs_are_json_lines_with_the_request_id():
    probe = (
        "import logging; from drishtiksha.middleware import _current_request_id;"
        "_current_request_id.set('req-12345678'); logging.getLogger('drishtiksha.test')"
        ".warning('upload %s refused', 'x.mp4', extra={'mediaId': 'm-1'})"
    )

    result = _manage("shell", "-c", probe, env=PRODUCTION_ENV)

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "upload x.mp4 refused"
    assert line["level"] == "WARNING"
    assert line["requestId"] == "req-12345678"
    assert line["mediaId"] == "m-1"
