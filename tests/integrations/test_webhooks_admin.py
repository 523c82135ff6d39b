"""Webhooks and their delivery log in the admin: listed, filtered, the log read-only."""

from __future__ import annotations

import pytest

from integrations.models import DeliveryStatus, WebhookDelivery
from integrations.services import webhook_create, webhook_test_send
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(receiver, local_webhooks) -> WebhookDelivery:
    webhook = webhook_create(owner=UserFactory(), url=receiver.url, description="ops receiver")
    return webhook_test_send(webhook=webhook)


def test_the_changelists_render_and_filter(staff_client, delivery):
    webhooks = staff_client.get("/admin/integrations/webhook/")
    pending = staff_client.get(
        "/admin/integrations/webhookdelivery/", {"status__exact": DeliveryStatus.PENDING}
    )
    failed = staff_client.get(
        "/admin/integrations/webhookdelivery/", {"status__exact": DeliveryStatus.FAILED}
    )

    assert webhooks.status_code == 200 and "ops receiver" in webhooks.content.decode()
    assert pending.status_code == 200 and str(delivery.pk) in pending.content.decode()
    assert failed.status_code == 200 and str(delivery.pk) not in failed.content.decode()


def test_the_delivery_log_is_read_only(staff_client, delivery):
    page = staff_client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/")

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert staff_client.get("/admin/integrations/webhookdelivery/add/").status_code == 403
    staff_client.post(f"/admin/integrations/webhookdelivery/{delivery.pk}/delete/", {"post": "yes"})
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
