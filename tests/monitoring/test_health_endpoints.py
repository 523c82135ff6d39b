import json
import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_liveness_answers_json_without_touching_services(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/api/health")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["status"] == "ok"


@pytest.mark.django_db
def test_readiness_is_200_when_database_and_redis_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["data"]["checks"] == {"database": {"ok": True}, "redis": {"ok": True}}


@pytest.mark.django_db
def test_readiness_is_503_naming_redis_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False
    assert "redis" in body["message"]
    assert body["data"]["checks"]["redis"]["ok"] is False
    assert body["data"]["checks"]["database"]["ok"] is True


def test_health_refuses_other_methods(client):
    assert client.post("/api/health").status_code == 405


def test_readiness_is_503_naming_the_database_when_it_is_unreachable():
    """A process whose database does not answer (a port nobody listens on) is not ready."""
    probe = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/readyz')\n"
        "print(json.dumps({'status': response.status_code, 'body': response.json()}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "drishtiksha.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_closed_port()}/drishtiksha",
        # A request waits this long for a pooled connection that can never be made.
        "DB_POOL_TIMEOUT_SECONDS": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )

    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert "database" in answer["body"]["message"]
    assert answer["body"]["data"]["checks"]["database"]["ok"] is False
    assert answer["body"]["data"]["checks"]["redis"]["ok"] is True
    assert "Traceback" not in json.dumps(answer)
