"""The web process reuses PostgreSQL connections from a pool; workers keep one connection each."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.pipeline import python_with_default_settings

PRINT_DATABASE = (
    "import django, json; django.setup(); from django.conf import settings; "
    "{prepare}; db = settings.DATABASES['default']; "
    "print(json.dumps({{'pool': db['OPTIONS'].get('pool'), 'max_age': db['CONN_MAX_AGE']}}))"
)


def _database_settings(prepare: str = "pass", **env: str) -> dict:
    # Any database name will do: the settings are only read.
    output = python_with_default_settings(
        PRINT_DATABASE.format(prepare=prepare),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/drishtiksha",
        **env,
    )
    return json.loads(output.strip().splitlines()[-1])


def test_postgresql_connections_are_pooled_by_default():
    database = _database_settings(DB_CONNECT_TIMEOUT_SECONDS="7")

    assert database["max_age"] == 0
    assert database["pool"]["max_size"] == 40
    # A request waits for a connection no longer than one takes to establish.
    assert database["pool"]["timeout"] == 7


def test_the_pool_is_sized_or_turned_off_by_the_environment():
    assert _database_settings(DB_POOL_MAX_SIZE="8")["pool"]["max_size"] == 8
    assert _database_settings(DB_POOL_MAX_SIZE="0")["pool"] is None
    # Persistent per-thread connections were asked for: they and a pool exclude each other.
    assert _database_settings(DB_CONN_MAX_AGE="60") == {"pool": None, "max_age": 60}


def test_celery_workers_keep_a_connection_instead_of_a_pool():
    prepare = "from drishtiksha.celery import _keep_database_connections_in_workers as keep; keep()"

    database = _database_settings(prepare, WORKER_DB_CONN_MAX_AGE="45")

    assert database == {"pool": None, "max_age": 45}


THREADED_REQUESTS = """
import threading, django
django.setup()
from django.db import connection
assert connection.settings_dict["OPTIONS"]["pool"]
backends = []

def request():
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backends.append(cursor.fetchone()[0])
    connection.close()  # what the end of a request does

for _ in range(20):
    thread = threading.Thread(target=request)
    thread.start()
    thread.join()
print(len(backends), len(set(backends)))
"""


@pytest.mark.django_db
def test_requests_in_their_own_threads_reuse_one_pooled_connection():
    """Under ASGI each request may run in a new thread; each used to open its own connection."""
    requests, connections = map(int, python_with_default_settings(THREADED_REQUESTS).split())
    assert requests == 20
    # A returned connection is checked in the background, so a request arriving meanwhile may
    # grow the pool by one; without the pool there were as many connections as requests.
    assert connections <= 3


POOL_EXHAUSTED = """
import threading, django
django.setup()
from django.db import OperationalError, connection
from drishtiksha.outages import is_service_outage

connection.ensure_connection()  # the only connection of the pool, held by this "request"
outcome = []

def another_request():
    from django.db import connection
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        outcome.append(is_service_outage(exc))

thread = threading.Thread(target=another_request)
thread.start()
thread.join()
print(outcome)
"""


@pytest.mark.django_db
def test_a_request_that_waits_in_vain_for_a_pooled_connection_is_an_outage():
    """Answered 503 with Retry-After, like Redis not answering, rather than a 500."""
    outcome = python_with_default_settings(
        POOL_EXHAUSTED, DB_POOL_MAX_SIZE="1", DB_POOL_TIMEOUT_SECONDS="0.5"
    )

    assert outcome.strip() == "[True]"
