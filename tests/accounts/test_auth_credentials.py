"""The three accepted credentials, and the CSRF rules for the two a browser sends by itself."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROFILE_URL = "/api/v1/auth/profile"


@pytest.fixture
def cookie_client(user, api_login) -> APIClient:
    """A client holding only the `authToken` cookie, as a browser would after an API login."""
    token = api_login(user)["token"]
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["authToken"] = token
    return client


@pytest.fixture
def session_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token_for(client, page: str) -> str:
    """What a browser does: load a page with a form, which sets the csrftoken cookie."""
    client.get(page)
    return client.cookies["csrftoken"].value


def test_bearer_token_authenticates(bearer_client, user):
    response = bearer_client.get(PROFILE_URL)

    assert response.json()["data"]["email"] == user.email


def test_cookie_authenticates_reads(cookie_client, user):
    response = cookie_client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json()["data"]["email"] == user.email


def test_cookie_on_an_unsafe_method_without_csrf_or_origin_is_403(cookie_client, user):
    response = cookie_client.patch(PROFILE_URL, {"firstName": "Mallory"}, format="json")

    assert response.status_code == 403
    assert response.json()["message"].startswith("CSRF Failed")
    user.refresh_from_db()
    assert user.first_name == "Ada"


def test_cookie_with_a_foreign_origin_is_403(cookie_client, user):
    response = cookie_client.patch(
        PROFILE_URL, {"firstName": "Mallory"}, format="json", HTTP_ORIGIN="https://evil.example"
    )

    assert response.status_code == 403
    user.refresh_from_db()
    assert user.first_name == "Ada"


def test_cookie_with_our_own_origin_may_write(cookie_client, user):
    response = cookie_client.patch(
        PROFILE_URL, {"firstName": "Grace"}, format="json", HTTP_ORIGIN="http://testserver"
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.first_name == "Grace"


def test_cookie_with_a_trusted_origin_may_write(cookie_client, user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["chrome-extension://abcdefghijklmnop"]

    response = cookie_client.patch(
        PROFILE_URL,
        {"firstName": "Grace"},
        format="json",
        HTTP_ORIGIN="chrome-extension://abcdefghijklmnop",
    )

    assert response.status_code == 200


def test_cookie_with_a_csrf_token_may_write(cookie_client, user):
    token = csrf_token_for(cookie_client, "/accounts/login/")

    response = cookie_client.patch(
        PROFILE_URL, {"firstName": "Grace"}, format="json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.first_name == "Grace"


def test_invalid_cookie_is_401(api_client):
    api_client.cookies["authToken"] = "not.a.jwt"

    assert api_client.get(PROFILE_URL).status_code == 401


def test_session_authenticates_reads(session_client, user):
    response = session_client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json()["data"]["email"] == user.email


def test_session_writes_need_the_csrf_token(session_client, user):
    refused = session_client.patch(
        PROFILE_URL, {"firstName": "Mallory"}, content_type="application/json"
    )
    token = csrf_token_for(session_client, "/accounts/profile/")
    accepted = session_client.patch(
        PROFILE_URL, {"firstName": "Grace"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    user.refresh_from_db()
    assert user.first_name == "Grace"


def test_bearer_wins_over_a_cookie_of_someone_else(api_login, user):
    other = UserFactory()
    client = APIClient()
    client.cookies["authToken"] = api_login(other)["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_login(user)['token']}")

    assert client.get(PROFILE_URL).json()["data"]["email"] == user.email


def test_login_is_not_blocked_by_a_stale_cookie_or_session(user):
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["authToken"] = "stale.token.value"
    client.force_login(user)

    response = client.post(
        "/api/v1/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )

    assert response.status_code == 200


def test_a_foreign_page_cannot_log_a_visitor_in_and_plant_its_cookie(api_client, user):
    response = api_client.post(
        "/api/v1/auth/login",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        format="multipart",
        HTTP_ORIGIN="https://evil.example",
    )

    assert response.status_code == 403
    assert response.json()["message"] == "Cross-site request refused: this origin is not trusted."
    assert "authToken" not in response.cookies


def test_a_foreign_page_cannot_log_a_visitor_out(session_client, user):
    response = session_client.post("/api/v1/auth/logout", HTTP_ORIGIN="https://evil.example")

    assert response.status_code == 403
    assert session_client.get(PROFILE_URL).json()["data"]["email"] == user.email


def test_login_from_our_own_pages_or_without_an_origin_is_accepted(api_client, user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example"]
    credentials = {"email": user.email, "password": DEFAULT_PASSWORD}

    own = api_client.post("/api/v1/auth/login", credentials, HTTP_ORIGIN="http://testserver")
    trusted = api_client.post("/api/v1/auth/login", credentials, HTTP_ORIGIN="https://app.example")
    script = api_client.post("/api/v1/auth/login", credentials)

    assert (own.status_code, trusted.status_code, script.status_code) == (200, 200, 200)
