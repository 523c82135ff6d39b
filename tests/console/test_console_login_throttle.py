"""The admin console's login shares the failed-login limit of the API and the login page.

It used to check passwords with Django's stock form, counting nothing: fifteen wrong passwords,
then the right one, got in. Now its failures count per (address, email) like the others, and once
the limit is reached the right password is refused too, with 429 and Retry-After.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import DEFAULT_PASSWORD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fast_password_hashing", "isolated_cache"),
]

ADMIN_LOGIN = "/admin/login/"


def _admin_login(client: Client, email: str, password: str):
    return client.post(ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"})


def test_after_the_limit_even_the_right_password_is_refused(staff_user, settings):
    client = Client()
    failures = [
        _admin_login(client, staff_user.email, "wrong password").status_code
        for _ in range(settings.LOGIN_FAILURE_LIMIT)
    ]

    refused = _admin_login(client, staff_user.email, DEFAULT_PASSWORD)

    assert failures == [200] * settings.LOGIN_FAILURE_LIMIT  # the form again, with its error
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    assert "Too many failed login attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login


def test_failures_in_the_console_lock_the_api_and_page_login(staff_user, api_client, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _admin_login(Client(), staff_user.email, "wrong password")

    api = api_client.post(
        "/api/v1/auth/login", {"email": staff_user.email, "password": DEFAULT_PASSWORD}
    )
    page = Client().post(
        "/accounts/login/", {"email": staff_user.email, "password": DEFAULT_PASSWORD}
    )

    assert api.status_code == 429
    assert page.status_code == 429


def test_failures_through_the_api_lock_the_console(staff_user, api_client, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        api_client.post("/api/v1/auth/login", {"email": staff_user.email, "password": "guess"})

    assert _admin_login(Client(), staff_user.email, DEFAULT_PASSWORD).status_code == 429


def test_below_the_limit_the_right_password_logs_in_and_clears_the_count(staff_user, settings):
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        _admin_login(client, staff_user.email, "wrong password")

    accepted = _admin_login(client, staff_user.email, DEFAULT_PASSWORD)
    client.logout()
    after = [
        _admin_login(Client(), staff_user.email, "wrong password").status_code
        for _ in range(settings.LOGIN_FAILURE_LIMIT - 1)
    ]

    assert accepted.status_code == 302 and accepted["Location"] == "/admin/"
    assert after == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)
    assert _admin_login(Client(), staff_user.email, DEFAULT_PASSWORD).status_code == 302


def test_a_regular_user_with_the_right_password_still_gets_no_console(user):
    response = _admin_login(Client(), user.email, DEFAULT_PASSWORD)

    assert response.status_code == 200
    assert "Please enter the correct email and password for a staff account" in (
        response.content.decode()
    )
