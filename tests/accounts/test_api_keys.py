"""API keys over the API: create, list, revoke, and authenticate with `Authorization: Api-Key`."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from accounts.models import ApiKey
from audit.models import AuditAction, AuditEvent, AuditVia
from audit.services import SYSTEM
from tests.factories import DEFAULT_PASSWORD, MediaFactory, UserFactory

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/auth/api-keys"
MEDIA_URL = "/api/v1/media"
PASSWORD_URL = "/api/v1/auth/profile/password"


def key_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


@pytest.fixture
def issued(user) -> tuple[ApiKey, str]:
    return api_key_create(owner=user, name="CI pipeline", audit=SYSTEM)


def test_create_returns_the_secret_once_and_stores_only_its_hash(bearer_client, user):
    response = bearer_client.post(KEYS_URL, {"name": "Newsroom bot"})

    assert response.status_code == 201, response.content
    assert "no-store" in response["Cache-Control"]
    data = response.json()["data"]
    secret = data["key"]
    assert secret.startswith("dk_")
    assert data["prefix"] == secret[:11]
    assert set(data) == {"id", "name", "prefix", "createdAt", "lastUsedAt", "revokedAt", "key"}
    key = ApiKey.objects.get(pk=data["id"])
    assert key.owner == user
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(v) for v in ApiKey.objects.filter(pk=key.pk).values_list().get()]
    assert secret not in stored
    assert str(key) == f"Newsroom bot ({data['prefix']}…)"

    listed = bearer_client.get(KEYS_URL).json()["data"]
    assert listed["count"] == 1
    assert listed["results"][0]["name"] == "Newsroom bot"
    assert "key" not in listed["results"][0]
    assert secret not in str(listed)


def test_create_writes_an_audit_row(bearer_client, user):
    key_id = bearer_client.post(KEYS_URL, {"name": "Bot"}).json()["data"]["id"]

    event = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert (event.owner, event.actor, event.target_id, event.via) == (
        user,
        user,
        key_id,
        AuditVia.API,
    )


def test_create_refuses_unknown_fields_and_a_missing_name(bearer_client):
    assert bearer_client.post(KEYS_URL, {"name": "x", "keyHash": "00"}).status_code == 400
    response = bearer_client.post(KEYS_URL, {})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    assert not ApiKey.objects.exists()


def test_an_active_name_cannot_be_reused_but_a_revoked_one_can(bearer_client, issued):
    response = bearer_client.post(KEYS_URL, {"name": "ci PIPELINE"})
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {"field": "name", "message": "You already have an active API key with this name."}
    ]

    bearer_client.delete(f"{KEYS_URL}/{issued[0].pk}")
    assert bearer_client.post(KEYS_URL, {"name": "CI pipeline"}).status_code == 201


def test_the_number_of_active_keys_is_limited(bearer_client, user, settings):
    settings.API_KEYS_MAX_PER_USER = 2
    first = bearer_client.post(KEYS_URL, {"name": "one"}).json()["data"]["id"]
    assert bearer_client.post(KEYS_URL, {"name": "two"}).status_code == 201

    response = bearer_client.post(KEYS_URL, {"name": "three"})
    assert response.status_code == 409
    assert response.json()["message"] == (
        "You already have 2 active API keys; revoke one before creating another."
    )

    bearer_client.delete(f"{KEYS_URL}/{first}")
    assert bearer_client.post(KEYS_URL, {"name": "three"}).status_code == 201


def test_a_key_authenticates_as_its_owner_and_sees_only_their_media(issued, user):
    mine = MediaFactory(owner=user)
    theirs = MediaFactory(owner=UserFactory())
    client = key_client(issued[1])

    response = client.get(MEDIA_URL)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["data"]] == [str(mine.pk)]
    assert client.get(f"{MEDIA_URL}/{mine.pk}").status_code == 200
    assert client.get(f"{MEDIA_URL}/{theirs.pk}").status_code == 404


def test_a_key_can_write_without_csrf(issued):
    # Api-Key is not a browser credential, so no CSRF token is asked for.
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued[1]}")
    response = client.put("/api/v1/auth/profile", {"firstName": "Grace"})
    assert response.status_code == 200


def test_a_revoked_key_gets_401_in_the_envelope(bearer_client, issued):
    key, secret = issued
    assert bearer_client.delete(f"{KEYS_URL}/{key.pk}").status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None

    response = key_client(secret).get(MEDIA_URL)
    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "success": False,
        "message": "Invalid or revoked API key.",
        "errors": [],
        "requestId": response.json()["requestId"],
    }
    assert response["WWW-Authenticate"]
    listed = bearer_client.get(KEYS_URL).json()["data"]["results"]
    assert listed[0]["revokedAt"] is not None


@pytest.mark.parametrize(
    "header",
    ["Api-Key", "Api-Key dk_one dk_two", "Api-Key dk_not-a-real-key", "Api-Key not-even-prefixed"],
)
def test_malformed_or_unknown_keys_get_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(MEDIA_URL)
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_a_key_of_an_inactive_user_gets_401(issued, user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert key_client(issued[1]).get(MEDIA_URL).status_code == 401


def test_revoking_someone_elses_key_is_404(bearer_client):
    other, _ = api_key_create(owner=UserFactory(), name="theirs", audit=SYSTEM)

    assert bearer_client.delete(f"{KEYS_URL}/{other.pk}").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_revoke_writes_one_audit_row(bearer_client, issued, user):
    url = f"{KEYS_URL}/{issued[0].pk}"
    assert bearer_client.delete(url).status_code == 204
    assert bearer_client.delete(url).status_code == 204

    assert AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED, owner=user).count() == 1


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", KEYS_URL, None),
        ("post", KEYS_URL, {"name": "another"}),
        ("delete", "KEY", None),
        (
            "put",
            PASSWORD_URL,
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": "a-new-long-password-42"},
        ),
    ],
)
def test_a_key_cannot_manage_keys_or_change_the_password(issued, user, method, url, body):
    key, secret = issued
    url = f"{KEYS_URL}/{key.pk}" if url == "KEY" else url
    response = getattr(key_client(secret), method)(url, body)

    assert response.status_code == 403
    assert response.json()["message"] == (
        "API keys cannot manage API keys or change the password; log in with your password."
    )
    key.refresh_from_db()
    user.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1
    assert user.check_password(DEFAULT_PASSWORD)


def test_use_updates_last_used_at_at_most_once_per_resolution(issued):
    key, secret = issued
    client = key_client(secret)

    client.get(MEDIA_URL)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None

    client.get(MEDIA_URL)
    key.refresh_from_db()
    assert key.last_used_at == first

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=5))
    client.get(MEDIA_URL)
    key.refresh_from_db()
    assert key.last_used_at >= first


def test_use_is_audited_once_per_interval(issued, user):
    key, secret = issued
    client = key_client(secret)

    client.get(MEDIA_URL)
    client.get(f"{MEDIA_URL}?page=1")
    used = AuditEvent.objects.filter(action=AuditAction.API_KEY_USED)
    assert used.count() == 1
    event = used.get()
    assert (event.owner, event.actor, event.via, event.target_id) == (
        user,
        user,
        AuditVia.API_KEY,
        str(key.pk),
    )
    assert event.credential_label == str(key)
    assert event.details == {"method": "GET", "path": MEDIA_URL}

    ApiKey.objects.filter(pk=key.pk).update(use_audited_at=timezone.now() - timedelta(hours=2))
    client.post(MEDIA_URL, {})
    assert used.count() == 2
    assert used.first().details["method"] == "POST"


def test_actions_through_a_key_name_it_in_the_audit_trail(issued, user):
    key, secret = issued
    media = MediaFactory(owner=user)

    assert key_client(secret).delete(f"{MEDIA_URL}/{media.pk}").status_code == 200

    event = AuditEvent.objects.get(action=AuditAction.MEDIA_DELETED)
    assert (event.actor, event.via, event.credential_label) == (
        user,
        AuditVia.API_KEY,
        f"CI pipeline ({key.prefix}…)",
    )


def test_the_list_costs_the_same_queries_whatever_its_length(bearer_client, user):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert bearer_client.get(KEYS_URL).status_code == 200
        return len(captured)

    api_key_create(owner=user, name="first", audit=SYSTEM)
    one = queries_for_list()
    for n in range(5):
        api_key_create(owner=user, name=f"more {n}", audit=SYSTEM)
    assert queries_for_list() == one
    assert bearer_client.get(KEYS_URL).json()["data"]["count"] == 6
