"""The webhook pages: login, CSRF, the secret shown once, enable/disable, test, delete."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from integrations.models import Webhook, WebhookDelivery
from integrations.services import webhook_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/integrations/webhooks/"


@pytest.fixture
def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(client: Client, path: str) -> str:
    page = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_page_needs_a_login():
    response = Client().get(LIST)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_adding_shows_the_secret_once(csrf_client, user, receiver, local_webhooks):
    response = csrf_client.post(
        LIST,
        {
            "url": receiver.url,
            "description": "Ops",
            "csrfmiddlewaretoken": _token(csrf_client, LIST),
        },
        follow=True,
    )

    webhook = Webhook.objects.get(owner=user)
    page = response.content.decode()
    assert "Copy this secret into your receiver now" in page
    assert webhook.secret in page
    again = csrf_client.get(f"{LIST}{webhook.pk}/").content.decode()
    assert "Copy this secret into your receiver now" not in again
    assert "Reveal the secret" in again


def test_a_form_without_the_csrf_token_is_refused(csrf_client, receiver, local_webhooks):
    response = csrf_client.post(LIST, {"url": receiver.url})

    assert response.status_code == 403
    assert not Webhook.objects.exists()


def test_a_refused_url_is_shown_on_the_form(user_client):
    response = user_client.post(LIST, {"url": "https://10.0.0.1/hook"})

    assert response.status_code == 400
    assert "private or reserved" in response.content.decode()
    assert not Webhook.objects.exists()


def test_disable_test_and_delete_with_confirmation(user_client, user, receiver, local_webhooks):
    webhook = webhook_create(owner=user, url=receiver.url)
    detail = f"{LIST}{webhook.pk}/"

    user_client.post(f"{detail}toggle/", {"active": "no"})
    webhook.refresh_from_db()
    assert webhook.is_active is False
    user_client.post(f"{detail}toggle/", {"active": "yes"})
    user_client.post(f"{detail}test/")
    page = user_client.get(detail).content.decode()
    assert WebhookDelivery.objects.filter(webhook=webhook, event="ping").count() == 1
    assert "<code>ping</code>" in page

    confirm = user_client.post(f"{detail}delete/")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert Webhook.objects.filter(pk=webhook.pk).exists()
    deleted = user_client.post(f"{detail}delete/", {"confirmed": "yes"})
    assert deleted.status_code == 302
    assert not Webhook.objects.filter(pk=webhook.pk).exists()


def test_someone_elses_webhook_page_is_not_found(user_client, receiver, local_webhooks):
    theirs = webhook_create(owner=UserFactory(), url=receiver.url)

    assert user_client.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert user_client.post(f"{LIST}{theirs.pk}/delete/", {"confirmed": "yes"}).status_code == 404
    assert Webhook.objects.filter(pk=theirs.pk).exists()


def test_the_profile_links_to_the_webhooks_page(user_client):
    assert f'href="{LIST}"' in user_client.get("/accounts/profile/").content.decode()
