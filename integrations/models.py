"""Webhooks a user registers, and the log of every delivery made to them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

WEBHOOK_URL_MAX_LENGTH = 2048
WEBHOOK_DESCRIPTION_MAX_LENGTH = 200
DELIVERY_ERROR_MAX_LENGTH = 500


class WebhookEvent(models.TextChoices):
    RUN_COMPLETED = "run.completed", "Run completed"
    PING = "ping", "Test event"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Delivered"
    FAILED = "FAILED", "Failed"


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=WEBHOOK_URL_MAX_LENGTH)
    description = models.CharField(max_length=WEBHOOK_DESCRIPTION_MAX_LENGTH, blank=True)
    # Kept in clear: the platform needs it to sign every delivery (a hash could not sign).
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="webhook_owner_created_idx")]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # Not a foreign key: deleting the media (and its runs) must leave the log as it was.
    run_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=DELIVERY_ERROR_MAX_LENGTH, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While an attempt is in flight: a second task for the same row finds it claimed and stops.
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} ({self.get_status_display()})"
