"""`/api/v1/webhooks`: registration rules, the secret, owner scoping, the delivery log."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from integrations.models import Webhook, WebhookDelivery, WebhookEvent
from integrations.services import webhook_create, webhook_test_send
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks"


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def client(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _field_errors(response) -> dict[str, str]:
    body = response.json()
    assert body["success"] is False
    return {error["field"]: error["message"] for error in body["errors"]}


def test_registering_answers_the_secret_once_and_lists_without_it(
    client, owner, receiver, local_webhooks
):
    response = client.post(URL, {"url": receiver.url, "description": "CI"})

    assert response.status_code == 201, response.content
    created = response.json()["data"]
    assert created["secret"].startswith("whsec_")
    assert created["isActive"] is True and created["description"] == "CI"
    listed = client.get(URL).json()["data"]
    assert listed["count"] == 1
    assert "secret" not in listed["results"][0]
    detail = client.get(f"{URL}/{created['id']}").json()["data"]
    assert detail["secret"] == created["secret"]
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_CREATED)
    assert (event.owner, event.target_id, event.via) == (owner, created["id"], "API")


def test_plain_http_is_refused_by_default(client):
    response = client.post(URL, {"url": "http://example.com/hook"})

    assert response.status_code == 400
    assert "https://" in _field_errors(response)["url"]
    assert not Webhook.objects.exists()


def test_loopback_is_refused_without_the_allow_list(client, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.URL_FETCH_ALLOWED_NETWORKS = []

    response = client.post(URL, {"url": "http://127.0.0.1:9/hook"})

    assert response.status_code == 400
    assert "private or reserved" in _field_errors(response)["url"]


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
    ],
)
def test_private_and_link_local_addresses_are_refused(client, url):
    response = client.post(URL, {"url": url})

    assert response.status_code == 400
    assert "url" in _field_errors(response)


def test_input_errors_name_their_field_in_the_envelope(client):
    response = client.post(URL, {"url": "not a url", "secret": "mine"})

    assert response.status_code == 400
    assert set(_field_errors(response)) >= {"secret"}


def test_the_per_user_limit_is_a_conflict(client, receiver, local_webhooks):
    local_webhooks.WEBHOOK_MAX_PER_USER = 1
    assert client.post(URL, {"url": receiver.url}).status_code == 201

    response = client.post(URL, {"url": receiver.url})

    assert response.status_code == 409
    assert response.json()["success"] is False


def test_patch_changes_only_url_description_and_active(client, owner, receiver, local_webhooks):
    webhook = webhook_create(owner=owner, url=receiver.url)

    refused = client.patch(f"{URL}/{webhook.pk}", {"secret": "whsec_mine"})
    changed = client.patch(f"{URL}/{webhook.pk}", {"isActive": False, "description": "off"})
    bad_url = client.patch(f"{URL}/{webhook.pk}", {"url": "https://10.1.2.3/x"})

    assert refused.status_code == 400 and "secret" in _field_errors(refused)
    assert changed.status_code == 200
    assert changed.json()["data"]["isActive"] is False
    assert bad_url.status_code == 400 and "url" in _field_errors(bad_url)
    webhook.refresh_from_db()
    assert (webhook.is_active, webhook.description, webhook.url) == (False, "off", receiver.url)


def test_someone_elses_webhook_is_not_found(client, receiver, local_webhooks):
    theirs = webhook_create(owner=UserFactory(), url=receiver.url)
    base = f"{URL}/{theirs.pk}"

    answers = [
        client.get(base),
        client.patch(base, {"description": "mine now"}),
        client.delete(base),
        client.get(f"{base}/deliveries"),
        client.post(f"{base}/test"),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert Webhook.objects.filter(pk=theirs.pk, description="").exists()
    assert not WebhookDelivery.objects.exists()


def test_test_event_and_the_paginated_delivery_log(client, owner, receiver, local_webhooks):
    webhook = webhook_create(owner=owner, url=receiver.url)
    webhook_test_send(webhook=webhook)

    queued = client.post(f"{URL}/{webhook.pk}/test")
    log = client.get(f"{URL}/{webhook.pk}/deliveries", {"pageSize": 1})

    assert queued.status_code == 202
    assert queued.json()["data"]["event"] == WebhookEvent.PING
    data = log.json()["data"]
    assert (data["count"], data["totalPages"], len(data["results"])) == (2, 2, 1)
    assert set(data["results"][0]) >= {"event", "status", "attempts", "lastStatusCode", "lastError"}


def test_delete_removes_the_webhook_and_is_audited(client, owner, receiver, local_webhooks):
    webhook = webhook_create(owner=owner, url=receiver.url)

    response = client.delete(f"{URL}/{webhook.pk}")

    assert response.status_code == 200
    assert not Webhook.objects.exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.WEBHOOK_DELETED, target_id=str(webhook.pk), owner=owner
    ).exists()


def test_anonymous_callers_are_refused():
    assert APIClient().get(URL).status_code == 401


def test_a_disabled_webhook_gets_no_test_event(client, owner, receiver, local_webhooks):
    webhook = webhook_create(owner=owner, url=receiver.url)
    client.patch(f"{URL}/{webhook.pk}", {"isActive": False})

    response = client.post(f"{URL}/{webhook.pk}/test")

    assert response.status_code == 409
    assert not WebhookDelivery.objects.exists()


def test_the_lists_cost_the_same_queries_whatever_their_length(
    client, owner, receiver, local_webhooks
):
    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    webhook = webhook_create(owner=owner, url=receiver.url)
    webhook_test_send(webhook=webhook)
    few = (queries(URL), queries(f"{URL}/{webhook.pk}/deliveries"))
    for _ in range(4):
        webhook_create(owner=owner, url=receiver.url)
        webhook_test_send(webhook=webhook)

    assert (queries(URL), queries(f"{URL}/{webhook.pk}/deliveries")) == few
