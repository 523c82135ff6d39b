"""The password reset pages: request, done, confirm (token out of the URL), complete."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

REQUEST = "/accounts/password-reset/"
NEW_PASSWORD = "reset-to-something-long-9"
LINK = re.compile(r"https?://testserver(/accounts/reset/[^/]+/[^/]+/)")


def csrf(client: Client, page: str) -> str:
    response = client.get(page)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())[1]


def request_link(client: Client, email: str) -> str:
    response = client.post(REQUEST, {"email": email, "csrfmiddlewaretoken": csrf(client, REQUEST)})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/done/"
    return LINK.search(mail.outbox[-1].body)[1]


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def test_full_reset_flow(browser, user):
    link = request_link(browser, user.email)

    landing = browser.get(link)
    assert landing.status_code == 302
    form_url = landing["Location"]
    assert form_url.endswith("/set-password/")
    assert link.split("/")[-2] not in form_url  # the token left the URL
    page = browser.get(form_url)
    assert b'autocomplete="new-password"' in page.content

    done = browser.post(
        form_url,
        {
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "csrfmiddlewaretoken": csrf(browser, form_url),
        },
    )

    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert b"Password changed" in browser.get(done["Location"]).content
    reused = Client().get(link)
    assert reused.status_code == 200
    assert b"This link does not work" in reused.content


def test_done_page_is_the_same_for_unknown_addresses(browser):
    response = browser.post(
        REQUEST, {"email": "nobody@example.com", "csrfmiddlewaretoken": csrf(browser, REQUEST)}
    )

    assert response["Location"] == "/accounts/password-reset/done/"
    assert mail.outbox == []
    assert b"Check your email" in browser.get(response["Location"]).content


def test_forged_link_is_refused(browser, user):
    link = request_link(browser, user.email)
    forged = link.rsplit("/", 2)[0] + "/abc-123/"

    response = browser.get(forged)

    assert response.status_code == 200
    assert b"This link does not work" in response.content


def test_set_password_page_without_a_session_token_is_refused(user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))

    response = Client().get(f"/accounts/reset/{uid}/set-password/")

    assert b"This link does not work" in response.content


def test_weak_new_password_is_shown_on_the_field(browser, user):
    link = request_link(browser, user.email)
    form_url = browser.get(link)["Location"]

    response = browser.post(
        form_url,
        {
            "new_password": "123",
            "new_password_again": "123",
            "csrfmiddlewaretoken": csrf(browser, form_url),
        },
    )

    assert response.status_code == 200
    assert b'id="id_new_password_error"' in response.content
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_requests_from_the_page_are_throttled(browser, user, settings):
    settings.API_PASSWORD_RESET_THROTTLE_RATE = "1/hour"
    request_link(browser, user.email)

    response = browser.post(
        REQUEST, {"email": user.email, "csrfmiddlewaretoken": csrf(browser, REQUEST)}
    )

    assert response.status_code == 429
    assert b"Too many attempts" in response.content
    assert len(mail.outbox) == 1
