"""Monitoring and maintenance are for admins only: the old API let every logged-in user in."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.models import ServerHealth

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

ENDPOINTS = [
    ("get", "/api/v1/monitoring/server-status"),
    ("get", "/api/v1/monitoring/server-history"),
    ("get", "/api/v1/monitoring/queue-status"),
    ("post", "/api/v1/monitoring/check-stuck-runs"),
    ("get", "/api/v1/monitoring/verify-statuses"),
    ("post", "/api/v1/monitoring/fix-statuses"),
    ("get", "/api/v1/monitoring/analytics"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_regular_users_get_403(user_api, method, url):
    response = getattr(user_api, method)(url)

    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False
    assert body["message"] == "This action is restricted to administrators."


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_callers_get_401(method, url):
    response = getattr(APIClient(), method)(url)

    assert response.status_code == 401
    assert response.json()["success"] is False


def test_a_regular_users_bearer_token_is_refused_too(bearer_client):
    ServerHealth.objects.create()

    response = bearer_client.get("/api/v1/monitoring/server-history")

    assert response.status_code == 403
    assert "data" not in response.json()
