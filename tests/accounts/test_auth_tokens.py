"""Access and refresh tokens: rotation, revocation, and everything a forged token can try."""

from datetime import timedelta

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROFILE_URL = "/api/v1/auth/profile"
REFRESH_URL = "/api/v1/auth/refresh"
LOGOUT_URL = "/api/v1/auth/logout"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_refresh_rotates_and_revokes_the_old_refresh_token(api_client, api_login, user):
    old = api_login(user)["refreshToken"]

    response = api_client.post(REFRESH_URL, {"refreshToken": old})

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"token", "refreshToken"} and data["refreshToken"] != old
    assert response.cookies["authToken"].value == data["token"]
    assert bearer(data["token"]).get(PROFILE_URL).status_code == 200
    reused = api_client.post(REFRESH_URL, {"refreshToken": old})
    assert reused.status_code == 401
    assert reused.json()["success"] is False
    assert api_client.post(REFRESH_URL, {"refreshToken": data["refreshToken"]}).status_code == 200


def test_logout_revokes_the_refresh_token_and_clears_the_cookie(api_client, api_login, user):
    refresh = api_login(user)["refreshToken"]

    response = api_client.post(LOGOUT_URL, {"refreshToken": refresh})

    assert response.status_code == 200
    assert response.json() == {
        "statusCode": 200,
        "data": None,
        "message": "Logged out",
        "success": True,
    }
    cleared = response.cookies["authToken"]
    assert cleared.value == "" and cleared["max-age"] == 0
    assert api_client.post(REFRESH_URL, {"refreshToken": refresh}).status_code == 401


def test_logout_also_ends_a_browser_session(user):
    browser = Client()
    browser.force_login(user)

    assert browser.post(LOGOUT_URL).status_code == 200
    assert browser.get(PROFILE_URL).status_code == 401


def test_logout_without_a_token_or_with_a_bad_one_still_succeeds(api_client):
    assert api_client.post(LOGOUT_URL, {}).status_code == 200
    assert api_client.post(LOGOUT_URL, {"refreshToken": "garbage"}).status_code == 200


def test_logout_ignores_an_expired_bearer_token(api_client, user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert api_client.post(LOGOUT_URL, {}).status_code == 200


def test_tampered_access_token_is_401(api_login, user):
    token = api_login(user)["token"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    response = bearer(tampered).get(PROFILE_URL)

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401


def test_token_signed_with_another_key_is_401(user):
    token = AccessToken.for_user(user)
    forged = token.token_backend.__class__(
        algorithm="HS256", signing_key="not-our-key-" * 4
    ).encode(token.payload)

    assert bearer(forged).get(PROFILE_URL).status_code == 401


def test_expired_access_token_is_401(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))

    assert bearer(str(token)).get(PROFILE_URL).status_code == 401


def test_expired_refresh_token_is_401(api_client, user):
    refresh = RefreshToken.for_user(user)
    refresh.set_exp(lifetime=-timedelta(seconds=1))

    assert api_client.post(REFRESH_URL, {"refreshToken": str(refresh)}).status_code == 401


def test_refresh_token_is_not_an_access_token(api_login, user):
    refresh = api_login(user)["refreshToken"]

    assert bearer(refresh).get(PROFILE_URL).status_code == 401


def test_access_token_is_not_a_refresh_token(api_client, api_login, user):
    access = api_login(user)["token"]

    assert api_client.post(REFRESH_URL, {"refreshToken": access}).status_code == 401


def test_malformed_authorization_header_is_401(api_client):
    response = api_client.get(PROFILE_URL, HTTP_AUTHORIZATION="Bearer a b c")

    assert response.status_code == 401


def test_token_of_a_deleted_user_is_401(api_login):
    doomed = UserFactory()
    token = api_login(doomed)["token"]
    doomed.delete()

    assert bearer(token).get(PROFILE_URL).status_code == 401


def test_refresh_needs_a_token(api_client):
    response = api_client.post(REFRESH_URL, {})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "refreshToken"
