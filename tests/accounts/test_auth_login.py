import pytest
from django.utils import timezone

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/api/v1/auth/login"


def test_login_returns_user_tokens_and_an_httponly_cookie(api_client, user):
    response = api_client.post(LOGIN_URL, {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"user", "token", "refreshToken"}
    assert data["user"]["email"] == user.email
    cookie = response.cookies["authToken"]
    assert cookie.value == data["token"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]
    user.refresh_from_db()
    assert user.last_login is not None and user.last_login <= timezone.now()


def test_cookie_is_secure_when_secure_cookies_are_on(api_client, user, settings):
    settings.AUTH_COOKIE_SECURE = True

    response = api_client.post(LOGIN_URL, {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response.cookies["authToken"]["secure"] is True


def test_email_is_case_insensitive(api_client, user):
    response = api_client.post(
        LOGIN_URL, {"email": user.email.upper(), "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "nobody@example.com", "password": DEFAULT_PASSWORD},
        {"email": "user-known@example.com", "password": "wrong-password"},
    ],
)
def test_wrong_credentials_are_401_with_one_message(api_client, credentials):
    UserFactory(email="user-known@example.com")

    response = api_client.post(LOGIN_URL, credentials)

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password"
    assert "authToken" not in response.cookies


def test_eleventh_failure_in_the_window_is_429_and_other_emails_are_not_blocked(api_client):
    victim = UserFactory()
    bystander = UserFactory()
    for _ in range(10):
        failed = api_client.post(LOGIN_URL, {"email": victim.email, "password": "guess"})
        assert failed.status_code == 401

    blocked = api_client.post(LOGIN_URL, {"email": victim.email, "password": DEFAULT_PASSWORD})

    assert blocked.status_code == 429
    assert blocked.json()["success"] is False
    assert 0 < int(blocked["Retry-After"]) <= 600
    other = api_client.post(LOGIN_URL, {"email": bystander.email, "password": DEFAULT_PASSWORD})
    assert other.status_code == 200


def test_lockout_is_per_address(api_client):
    victim = UserFactory()
    for _ in range(10):
        api_client.post(
            LOGIN_URL, {"email": victim.email, "password": "guess"}, REMOTE_ADDR="10.0.0.1"
        )

    elsewhere = api_client.post(
        LOGIN_URL, {"email": victim.email, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.0.0.2"
    )

    assert elsewhere.status_code == 200


def test_forwarded_for_header_cannot_dodge_the_lockout(api_client):
    victim = UserFactory()
    for n in range(10):
        api_client.post(
            LOGIN_URL,
            {"email": victim.email, "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}",
        )

    response = api_client.post(
        LOGIN_URL, {"email": victim.email, "password": "guess"}, HTTP_X_FORWARDED_FOR="9.9.9.9"
    )

    assert response.status_code == 429


def test_a_success_resets_the_failure_count(api_client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = UserFactory()
    wrong = {"email": user.email, "password": "guess"}
    right = {"email": user.email, "password": DEFAULT_PASSWORD}
    for _ in range(2):
        api_client.post(LOGIN_URL, wrong)
    assert api_client.post(LOGIN_URL, right).status_code == 200

    for _ in range(2):
        api_client.post(LOGIN_URL, wrong)

    # Four failures in the window, but a success came between them.
    assert api_client.post(LOGIN_URL, right).status_code == 200


def test_malformed_login_body_is_400(api_client):
    response = api_client.post(LOGIN_URL, {"email": "not-an-email"})

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"email", "password"}
