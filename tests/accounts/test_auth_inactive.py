"""An inactive account can neither log in nor keep using a credential it already holds."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

PROFILE_URL = "/api/v1/auth/profile"


def deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def test_inactive_user_cannot_log_in(api_client, user):
    deactivate(user)

    response = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password"


def test_inactive_user_bearer_token_stops_working(bearer_client, user):
    assert bearer_client.get(PROFILE_URL).status_code == 200
    deactivate(user)

    assert bearer_client.get(PROFILE_URL).status_code == 401


def test_inactive_user_cookie_stops_working(api_login, user):
    client = APIClient()
    client.cookies["authToken"] = api_login(user)["token"]
    assert client.get(PROFILE_URL).status_code == 200
    deactivate(user)

    assert client.get(PROFILE_URL).status_code == 401


def test_inactive_user_session_stops_working(user):
    client = Client()
    client.force_login(user)
    assert client.get(PROFILE_URL).status_code == 200
    deactivate(user)

    assert client.get(PROFILE_URL).status_code == 401
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_refresh(api_client, api_login, user):
    refresh = api_login(user)["refreshToken"]
    deactivate(user)

    assert api_client.post("/api/v1/auth/refresh", {"refreshToken": refresh}).status_code == 401
