"""API keys on the profile page and in the admin, with CSRF enforced as a browser experiences it."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from accounts.models import ApiKey
from audit.models import AuditAction, AuditEvent, AuditVia
from audit.services import SYSTEM
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/profile/"
CREATE = "/accounts/profile/api-keys/"


def revoke_url(key: ApiKey) -> str:
    return f"/accounts/profile/api-keys/{key.pk}/revoke/"


@pytest.fixture
def browser(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf(client: Client) -> str:
    response = client.get(PROFILE)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())[1]


def post(client: Client, url: str, data: dict | None = None):
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": csrf(client)})


def test_profile_lists_keys_without_their_secret(browser, user):
    key, secret = api_key_create(owner=user, name="Newsroom CMS", audit=SYSTEM)
    api_key_create(owner=UserFactory(), name="Someone else's", audit=SYSTEM)

    page = browser.get(PROFILE).content.decode()

    assert 'id="api-keys-heading"' in page
    assert "Newsroom CMS" in page
    assert f"{key.prefix}…" in page
    assert secret not in page
    assert "Someone else" not in page
    assert "Never" in page  # not used yet
    assert "js/api-keys.js" in page


def test_create_shows_the_secret_once(browser, user):
    response = post(browser, CREATE, {"name": "Monitoring script"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = re.search(r'id="new-api-key"[^>]*value="(dk_[^"]+)"', page)[1]
    key = ApiKey.objects.get(owner=user)
    assert key.name == "Monitoring script"
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert 'data-copy-target="new-api-key"' in page
    assert secret not in browser.get(PROFILE).content.decode()
    event = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert (event.owner, event.via, event.target_id) == (user, AuditVia.WEB, str(key.pk))

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert api.get("/api/v1/auth/profile").json()["data"]["id"] == str(user.pk)


def test_create_without_csrf_is_refused(browser):
    assert browser.post(CREATE, {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_create_errors_show_on_the_form(browser, user, settings):
    settings.API_KEYS_MAX_PER_USER = 1
    api_key_create(owner=user, name="only", audit=SYSTEM)

    page = post(browser, CREATE, {"name": "second"}).content.decode()
    assert "You already have 1 active API keys" in page
    assert ApiKey.objects.count() == 1

    page = post(browser, CREATE, {"name": ""}).content.decode()
    assert 'aria-invalid="true"' in page


def test_revoke_asks_first_then_revokes(browser, user):
    key, secret = api_key_create(owner=user, name="Old bot", audit=SYSTEM)

    confirm = post(browser, revoke_url(key))
    assert confirm.status_code == 200
    assert "Revoke the API key" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None

    response = post(browser, revoke_url(key), {"confirmed": "yes"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED).count() == 1
    page = browser.get(PROFILE).content.decode()
    assert "has been revoked" in page
    assert 'data-api-key-status="revoked"' in page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert api.get("/api/v1/media").status_code == 401


def test_revoke_without_csrf_or_of_someone_elses_key_is_refused(browser):
    other, _ = api_key_create(owner=UserFactory(), name="theirs", audit=SYSTEM)

    assert browser.post(revoke_url(other), {"confirmed": "yes"}).status_code == 403
    assert post(browser, revoke_url(other), {"confirmed": "yes"}).status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_admin_lists_keys_and_revokes_them(staff_client, user):
    key, _ = api_key_create(owner=user, name="Partner feed", audit=SYSTEM)

    changelist = staff_client.get("/admin/accounts/apikey/")
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "Partner feed" in page
    assert key.key_hash not in page
    assert (
        key.key_hash
        not in staff_client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    )

    response = staff_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke", "_selected_action": [str(key.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.get(action=AuditAction.API_KEY_REVOKED).owner == user
