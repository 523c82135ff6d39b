"""Property-based fuzzing of every operation in the project's own OpenAPI schema: no 5xx, ever.

The schema is loaded from `/api/schema/` through the real WSGI application, and every generated
request goes through the whole stack (middleware, authentication, throttles, exception handler)
as a regular user holding a Bearer token. For operations with an id in the path, each example is
also replayed against the caller's real media or run, so the handlers are exercised past the 404.

A second pass fuzzes the monitoring operations as an administrator, since a regular user only
ever reaches their permission check.

Nothing is excluded: the binary downloads (file, thumbnail, PDF report) are still meaningful
targets for `not_a_server_error` — their query string (`download`) and ids are fuzzed like any
other operation's, and a crash there would be a 500 like anywhere else.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.services import auth_tokens_issue
from media_analysis.choices import RunStatus
from tests.factories import AdminUserFactory, AnalysisRunFactory, UserFactory
from tests.fixtures.pipeline import stored_media

SCHEMA_URL = "/api/schema/?format=json"
EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def wsgi_app():
    """The real WSGI application, kept on the test's database connection.

    As Django's own test client does: a request must not close the connection that holds the
    test's transaction.
    """
    application = get_wsgi_application()

    def closing_application(environ, start_response):
        # Read the body and close it as a WSGI server would: closing is what removes the
        # request's uploaded temporary files, and the test transport does not do it.
        result = application(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            result.close()

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield closing_application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _served_schema() -> dict:
    """The schema exactly as `/api/schema/` serves it (anonymously: it needs no database)."""
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200, response.content[:500]
    return response.json()


# Loaded at collection, not from a fixture: `schemathesis.pytest.from_fixture` (4.32) writes
# `request.node._nodeid`, which pytest 9 no longer has.
schema = schemathesis.openapi.from_dict(_served_schema())


def _caller(user) -> dict:
    """A Bearer token for `user`, who owns a media item with a finished run."""
    media = stored_media(owner=user)
    run = AnalysisRunFactory(media=media, run_number=1, status=RunStatus.ANALYZED)
    media.latest_run = run
    media.status = run.status
    media.save(update_fields=["latest_run", "status"])
    token = auth_tokens_issue(user=user).access
    return {
        "headers": {"Authorization": f"Bearer {token}"},
        "ids": {"media_id": str(media.pk), "run_id": str(run.pk)},
    }


@pytest.fixture
def caller(db, fake_inference) -> dict:
    return _caller(UserFactory())


@pytest.fixture
def staff_caller(db, fake_inference) -> dict:
    return _caller(AdminUserFactory())


def test_the_schema_documents_the_operations_being_fuzzed():
    """Guard against a silently empty run: the fuzzing below covers these paths."""
    paths = {operation.ok().path for operation in schema.get_all_operations()}
    assert {
        "/api/v1/media",
        "/api/v1/media/{media_id}",
        "/api/v1/media/{media_id}/analyze",
        "/api/v1/media/{media_id}/file",
        "/api/v1/media/{media_id}/thumbnail",
        "/api/v1/pdf/report/run/{run_id}",
        "/api/v1/auth/profile",
        "/api/v1/monitoring/analytics",
    } <= paths


def _call_and_check(case, caller: dict, wsgi_app, upload_temp_dir) -> None:
    """No 5xx for the generated request, nor for it replayed against the caller's own ids."""
    response = case.call(app=wsgi_app, headers=caller["headers"])
    case.validate_response(response, checks=[not_a_server_error])

    path_parameters = case.path_parameters or {}
    own = {name: value for name, value in caller["ids"].items() if name in path_parameters}
    if own:
        case.path_parameters = {**path_parameters, **own}
        response = case.call(app=wsgi_app, headers=caller["headers"])
        case.validate_response(response, checks=[not_a_server_error])
    # Whatever was sent, nothing of it is left in the upload folder.
    assert list(upload_temp_dir.iterdir()) == []


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # `db`, `settings` and the fake inference server are per test, shared by its examples.
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_no_operation_answers_a_server_error(
    case, caller, wsgi_app, isolated_cache, upload_temp_dir
):
    _call_and_check(case, caller, wsgi_app, upload_temp_dir)


@schema.include(path_regex="^/api/v1/monitoring/").parametrize()
@FUZZ_SETTINGS
def test_no_monitoring_operation_answers_a_server_error_to_staff(
    case, staff_caller, wsgi_app, isolated_cache, upload_temp_dir
):
    _call_and_check(case, staff_caller, wsgi_app, upload_temp_dir)
