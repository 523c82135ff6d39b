"""The OpenAPI schema describes what the API really answers, envelope included.

Fuzzing (tests/security) proves no request gets a 5xx; this proves the other half: for the JSON
operations a client reads, the real answer to a real request on real data validates against the
schema served at `/api/schema/`, and its status code is one the schema documents.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from schemathesis.checks import response_schema_conformance, status_code_conformance

from accounts.services import auth_tokens_issue
from media_analysis.choices import AnalysisStatus, Prediction, RunStatus
from monitoring.models import HealthStatus, ServerHealth
from tests.factories import (
    AdminUserFactory,
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    UserFactory,
)
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/?format=json"
CHECKS = [response_schema_conformance, status_code_conformance]


@pytest.fixture(scope="module")
def schema():
    return schemathesis.openapi.from_dict(Client().get(SCHEMA_URL).json())


@pytest.fixture
def wsgi_app():
    """The real WSGI application on the test's own database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth_tokens_issue(user=user).access}"}


@pytest.fixture
def owned(fake_inference) -> dict:
    """A user with a media item whose run has one completed and one failed analysis."""
    user = UserFactory()
    media = stored_media(owner=user)
    run = AnalysisRunFactory(media=media, run_number=1, status=RunStatus.PARTIALLY_ANALYZED)
    DeepfakeAnalysisFactory(
        run=run,
        model_name="SIGLIP-LSTM-V4",
        status=AnalysisStatus.COMPLETED,
        prediction=Prediction.FAKE,
        confidence=0.9,
    )
    DeepfakeAnalysisFactory(
        run=run,
        model_name="COLOR-CUES-LSTM-V1",
        status=AnalysisStatus.FAILED,
        error_message="Media could not be processed.",
    )
    media.latest_run = run
    media.status = run.status
    media.save(update_fields=["latest_run", "status"])
    return {"user": user, "media": media, "run": run}


def _conforms(schema, wsgi_app, path: str, method: str, headers: dict, **case_fields) -> int:
    case = schema[path][method].Case(**case_fields)
    response = case.call(app=wsgi_app, headers=headers)
    case.validate_response(response, checks=CHECKS)
    return response.status_code


def _profile_put(schema, wsgi_app, user, body: dict) -> int:
    return _conforms(
        schema,
        wsgi_app,
        "/api/v1/auth/profile",
        "PUT",
        _bearer(user),
        body=body,
        media_type="application/json",
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/auth/profile", 200),
        ("/api/v1/media", 200),
        ("/api/v1/media/{media_id}", 200),
    ],
)
def test_owner_reads_conform_to_the_schema(schema, wsgi_app, owned, path, expected):
    fields = {"path_parameters": {"media_id": str(owned["media"].pk)}} if "{" in path else {}

    status = _conforms(schema, wsgi_app, path, "GET", _bearer(owned["user"]), **fields)

    assert status == expected


def test_error_answers_conform_to_the_schema(schema, wsgi_app, owned):
    stranger = _bearer(UserFactory())
    media = {"media_id": str(owned["media"].pk)}

    assert _conforms(schema, wsgi_app, "/api/v1/media/{media_id}", "GET", stranger,
                     path_parameters=media) == 404  # fmt: skip
    assert _conforms(schema, wsgi_app, "/api/v1/auth/profile", "GET", {}) == 401
    assert _profile_put(schema, wsgi_app, owned["user"], {"role": "ADMIN"}) == 400


def test_profile_update_with_one_name_conforms(schema, wsgi_app, owned):
    # The schema must not promise that both names are required: either one alone is accepted.
    documented = schema.raw_schema["components"]["schemas"]["ProfileUpdateRequest"]
    assert "required" not in documented

    status = _profile_put(schema, wsgi_app, owned["user"], {"firstName": "Grace"})

    assert status == 200
    owned["user"].refresh_from_db()
    assert owned["user"].first_name == "Grace"


def test_monitoring_reads_conform_to_the_schema(schema, wsgi_app, owned):
    ServerHealth.objects.create(status=HealthStatus.HEALTHY, response_time_ms=12)
    staff = _bearer(AdminUserFactory())

    for path in (
        "/api/v1/monitoring/server-status",
        "/api/v1/monitoring/server-history",
        "/api/v1/monitoring/analytics",
        "/api/v1/monitoring/verify-statuses",
    ):
        assert _conforms(schema, wsgi_app, path, "GET", staff) == 200, path
