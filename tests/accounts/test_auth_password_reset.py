import re

import pytest
from django.core import mail

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.accounts import profile_status, refresh_status

pytestmark = pytest.mark.django_db

RESET_URL = "/api/v1/auth/password-reset"
CONFIRM_URL = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "reset-to-something-long-9"
LINK = re.compile(r"https?://[^/]+/accounts/reset/(?P<uid>[^/]+)/(?P<token>[^/]+)/")


def requested_link(api_client, email: str) -> dict[str, str]:
    api_client.post(RESET_URL, {"email": email})
    assert len(mail.outbox) == 1
    return LINK.search(mail.outbox[0].body).groupdict()


def test_same_answer_whether_or_not_the_account_exists(api_client, user):
    known = api_client.post(RESET_URL, {"email": user.email.upper()})
    unknown = api_client.post(RESET_URL, {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]


def test_no_email_for_an_inactive_account(api_client):
    inactive = UserFactory(is_active=False)

    assert api_client.post(RESET_URL, {"email": inactive.email}).status_code == 200
    assert mail.outbox == []


def test_link_points_at_the_configured_public_url(api_client, user, settings):
    settings.PUBLIC_BASE_URL = "https://drishtiksha.example"

    api_client.post(RESET_URL, {"email": user.email}, HTTP_HOST="localhost")

    assert "https://drishtiksha.example/accounts/reset/" in mail.outbox[0].body
    assert "localhost" not in mail.outbox[0].body


def test_confirm_sets_the_password_once_and_ends_every_login(api_client, api_login, user):
    old = api_login(user)
    link = requested_link(api_client, user.email)

    response = api_client.post(CONFIRM_URL, {**link, "newPassword": NEW_PASSWORD})

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert refresh_status(old["refreshToken"]) == 401
    assert profile_status(old["token"]) == 401
    again = api_client.post(CONFIRM_URL, {**link, "newPassword": "yet-another-passphrase-3"})
    assert again.status_code == 400
    assert again.json()["errors"][0]["field"] == "token"


def test_confirm_with_a_forged_token_is_400(api_client, user):
    link = requested_link(api_client, user.email)

    response = api_client.post(
        CONFIRM_URL, {"uid": link["uid"], "token": "abc-123", "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 400
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_confirm_with_a_garbage_uid_is_400(api_client):
    response = api_client.post(
        CONFIRM_URL, {"uid": "!!!", "token": "abc-123", "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 400


def test_confirm_runs_the_password_validators(api_client, user):
    link = requested_link(api_client, user.email)

    response = api_client.post(CONFIRM_URL, {**link, "newPassword": "short"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "newPassword"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_requests_are_throttled(api_client, user, settings):
    settings.API_PASSWORD_RESET_THROTTLE_RATE = "2/hour"
    for _ in range(2):
        api_client.post(RESET_URL, {"email": user.email})

    response = api_client.post(RESET_URL, {"email": user.email})

    assert response.status_code == 429
    assert len(mail.outbox) == 2
