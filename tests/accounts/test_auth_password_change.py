import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.accounts import profile_status, refresh_status

pytestmark = pytest.mark.django_db

PASSWORD_URL = "/api/v1/auth/profile/password"
NEW_PASSWORD = "a-brand-new-passphrase-77"


def test_change_password_revokes_every_earlier_token(api_login, user):
    first = api_login(user)
    second = api_login(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['token']}")

    response = client.put(
        PASSWORD_URL, {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 200
    fresh = response.json()["data"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    for old in (first, second):
        assert refresh_status(old["refreshToken"]) == 401
        assert profile_status(old["token"]) == 401
    assert profile_status(fresh["token"]) == 200
    outstanding = OutstandingToken.objects.filter(user=user)
    assert BlacklistedToken.objects.filter(token__in=outstanding).count() == outstanding.count() - 1


def test_wrong_current_password_is_401_and_nothing_changes(bearer_client, user):
    response = bearer_client.put(
        PASSWORD_URL, {"currentPassword": "not-it", "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "currentPassword"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_weak_new_password_is_400(bearer_client, user):
    response = bearer_client.put(
        PASSWORD_URL, {"currentPassword": DEFAULT_PASSWORD, "newPassword": "12345678"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "newPassword"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_session_survives_its_own_password_change(user):
    client = Client()
    client.force_login(user)

    response = client.put(
        PASSWORD_URL,
        {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert client.get("/api/v1/auth/profile").status_code == 200


def test_other_sessions_end_with_a_password_change(user):
    changer, other = Client(), Client()
    changer.force_login(user)
    other.force_login(user)

    changer.put(
        PASSWORD_URL,
        {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
        content_type="application/json",
    )

    assert other.get("/api/v1/auth/profile").status_code == 401


def test_password_change_needs_authentication(api_client):
    response = api_client.put(
        PASSWORD_URL, {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 401
