import json
import socket

import pytest

from tests.fixtures.pipeline import python_with_default_settings


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


READINESS_PROBE = (
    "import django, json; django.setup()\n"
    "from django.db import connection\n"
    "assert connection.pool is not None\n"
    "from django.test import Client\n"
    "response = Client().get('/readyz')\n"
    "print(json.dumps({'status': response.status_code, 'body': response.json()}))\n"
)


def _readiness_in_a_web_process(**database_url: str) -> dict:
    """/readyz in a fresh process with the web process's pooled connections."""
    output = python_with_default_settings(
        READINESS_PROBE,
        # A request would wait this long for a pooled connection; the probe waits 1 s.
        DB_POOL_TIMEOUT_SECONDS="120",
        DB_HEALTH_TIMEOUT_SECONDS="1",
        **database_url,
    )
    return json.loads(output.strip().splitlines()[-1])


def test_readiness_is_503_naming_the_database_when_it_is_unreachable():
    """A process whose database does not answer (a port nobody listens on) is not ready."""
    answer = _readiness_in_a_web_process(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{_closed_port()}/drishtiksha"
    )

    assert answer["status"] == 503
    assert "database" in answer["body"]["message"]
    assert answer["body"]["data"]["checks"]["database"]["ok"] is False
    assert answer["body"]["data"]["checks"]["redis"]["ok"] is True
    assert "Traceback" not in json.dumps(answer)


@pytest.mark.django_db
def test_readiness_checks_the_database_through_the_pool():
    answer = _readiness_in_a_web_process()

    assert answer["status"] == 200
    assert answer["body"]["data"]["checks"] == {"database": {"ok": True}, "redis": {"ok": True}}
