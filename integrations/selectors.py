"""Reading webhooks and their delivery log, always scoped to their owner."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import User
from drishtiksha.errors import NotFound
from integrations.models import Webhook, WebhookDelivery


def webhooks_for_user(*, user: User) -> QuerySet[Webhook]:
    return Webhook.objects.filter(owner=user).order_by("-created_at", "-id")


def webhook_get_for_user(*, user: User, webhook_id: uuid.UUID | str) -> Webhook:
    """Someone else's webhook and a malformed id are both "not found"."""
    try:
        pk = uuid.UUID(str(webhook_id))
    except ValueError as exc:
        raise NotFound("Webhook not found.") from exc
    webhook = Webhook.objects.filter(owner=user, pk=pk).first()
    if webhook is None:
        raise NotFound("Webhook not found.")
    return webhook


def deliveries_for_webhook(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")
