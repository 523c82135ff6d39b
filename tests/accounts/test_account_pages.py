"""Account pages over HTTP, with CSRF enforced as a browser experiences it."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role, User
from tests.factories import DEFAULT_PASSWORD, AdminUserFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
SIGNUP = "/accounts/signup/"
LOGOUT = "/accounts/logout/"
PROFILE = "/accounts/profile/"
PASSWORD = "/accounts/profile/password/"
NEW_PASSWORD = "a-brand-new-passphrase-77"


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf(client: Client, page: str) -> str:
    response = client.get(page)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())[1]


def submit(client: Client, page: str, data: dict, *, action: str | None = None, **extra):
    return client.post(action or page, {**data, "csrfmiddlewaretoken": csrf(client, page)}, **extra)


def logged_in_as(client: Client) -> User | None:
    response = client.get("/api/v1/auth/profile")
    return (
        User.objects.get(pk=response.json()["data"]["id"]) if response.status_code == 200 else None
    )


def test_home_sends_anonymous_visitors_to_login():
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_home_is_the_dashboard_for_users(browser, user):
    browser.force_login(user)

    response = browser.get("/")

    assert response.status_code == 200
    assert b'<h1 id="dashboard-heading">Dashboard</h1>' in response.content


def test_layout_links_the_stylesheet_and_has_navigation(browser, user):
    browser.force_login(user)

    html = browser.get("/").content.decode()

    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert 'aria-label="Main"' in html
    assert 'href="/accounts/profile/"' in html
    assert f'action="{LOGOUT}"' in html and 'name="csrfmiddlewaretoken"' in html
    assert finders.find("css/app.css")


def test_monitoring_link_is_shown_to_staff_only(browser, user):
    browser.force_login(user)
    assert "Monitoring" not in browser.get("/").content.decode()

    browser.force_login(AdminUserFactory())
    assert 'href="/monitoring/"' in browser.get("/").content.decode()


def test_login_form_is_accessible(browser):
    html = browser.get(LOGIN).content.decode()

    assert '<label for="id_email">Email:</label>' in html
    assert '<label for="id_password">Password:</label>' in html
    assert 'autocomplete="current-password"' in html


def test_login_starts_a_session_and_sets_the_extension_cookie(browser, user):
    response = submit(browser, LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in_as(browser) == user
    token = response.cookies["authToken"].value
    api = APIClient()
    api.cookies["authToken"] = token
    assert api.get("/api/v1/auth/profile").status_code == 200


def test_login_honours_a_local_next(browser, user):
    response = submit(
        browser,
        f"{LOGIN}?next=/accounts/profile/",
        {"email": user.email, "password": DEFAULT_PASSWORD, "next": "/accounts/profile/"},
    )

    assert response["Location"] == "/accounts/profile/"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/"]
)
def test_login_ignores_a_foreign_next(browser, user, target):
    response = submit(
        browser, LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_shows_the_error_on_the_form(browser, user):
    response = submit(browser, LOGIN, {"email": user.email, "password": "nope"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html and "Invalid email or password" in html
    assert logged_in_as(browser) is None


def test_inactive_user_cannot_log_in_on_the_page(browser):
    inactive = UserFactory(is_active=False)

    response = submit(browser, LOGIN, {"email": inactive.email, "password": DEFAULT_PASSWORD})

    assert "Invalid email or password" in response.content.decode()
    assert logged_in_as(browser) is None


def test_page_and_api_share_the_login_failure_limit(browser, user):
    api = APIClient()
    for _ in range(10):
        api.post("/api/v1/auth/login", {"email": user.email, "password": "guess"})

    response = submit(browser, LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed login attempts" in response.content.decode()
    assert logged_in_as(browser) is None


def test_login_without_csrf_is_refused(browser, user):
    response = browser.post(LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 403


def test_signup_creates_the_account_and_logs_in(browser):
    response = submit(
        browser,
        SIGNUP,
        {
            "email": "Grace@Example.com",
            "first_name": "Grace",
            "last_name": "Hopper",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="grace@example.com")
    assert user.role == Role.USER
    assert logged_in_as(browser) == user
    assert "Your account is ready" in browser.get("/").content.decode()


def test_signup_weak_password_error_is_tied_to_its_field(browser):
    response = submit(
        browser,
        SIGNUP,
        {
            "email": "grace@example.com",
            "first_name": "Grace",
            "last_name": "Hopper",
            "password": "12345",
            "password_again": "12345",
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_password_error"' in html
    assert re.search(r'<input[^>]*aria-describedby="[^"]*id_password_error[^"]*"', html)
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="id_password"', html)
    assert not User.objects.exists()


def test_signup_duplicate_email_error_is_on_the_email_field(browser, user):
    response = submit(
        browser,
        SIGNUP,
        {
            "email": user.email.upper(),
            "first_name": "A",
            "last_name": "B",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )

    html = response.content.decode()
    assert 'id="id_email_error"' in html and "already exists" in html
    assert User.objects.count() == 1


def test_signup_passwords_must_match(browser):
    response = submit(
        browser,
        SIGNUP,
        {
            "email": "grace@example.com",
            "first_name": "Grace",
            "last_name": "Hopper",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD + "x",
        },
    )

    assert 'id="id_password_again_error"' in response.content.decode()
    assert not User.objects.exists()


def test_logout_needs_post_and_csrf(browser, user):
    browser.force_login(user)

    assert browser.get(LOGOUT).status_code == 405
    assert browser.post(LOGOUT).status_code == 403
    assert logged_in_as(browser) == user


def test_logout_ends_the_session_and_clears_the_cookie(browser, user):
    submit(browser, LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD})

    response = submit(browser, "/", {}, action=LOGOUT)

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert response.cookies["authToken"].value == ""
    assert logged_in_as(browser) is None
    assert "You have been logged out" in browser.get(LOGIN).content.decode()


def test_profile_page_shows_and_updates_names(browser, user):
    browser.force_login(user)
    assert 'value="Ada"' in browser.get(PROFILE).content.decode()

    response = submit(browser, PROFILE, {"first_name": "Grace", "last_name": "Hopper"})

    assert response.status_code == 302 and response["Location"] == PROFILE
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")
    assert "Your profile has been updated" in browser.get(PROFILE).content.decode()


def test_profile_page_ignores_fields_it_does_not_offer(browser, user):
    browser.force_login(user)

    submit(
        browser,
        PROFILE,
        {"first_name": "Grace", "last_name": "Hopper", "role": "ADMIN", "email": "x@example.com"},
    )

    user.refresh_from_db()
    assert user.role == Role.USER and user.email.startswith("user")


def test_profile_needs_login():
    response = Client().get(PROFILE)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={PROFILE}"


def test_password_change_wrong_current_password(browser, user):
    browser.force_login(user)

    response = submit(
        browser,
        PROFILE,
        {
            "current_password": "nope",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
        action=PASSWORD,
    )

    assert response.status_code == 200
    assert 'id="id_current_password_error"' in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_keeps_this_session_and_ends_api_logins(browser, user, api_login):
    old_refresh = api_login(user)["refreshToken"]
    browser.force_login(user)

    response = submit(
        browser,
        PROFILE,
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
        action=PASSWORD,
    )

    assert response.status_code == 302
    assert logged_in_as(browser) == user
    assert "Your password has been changed" in browser.get(PROFILE).content.decode()
    refreshed = APIClient().post("/api/v1/auth/refresh", {"refreshToken": old_refresh})
    assert refreshed.status_code == 401
