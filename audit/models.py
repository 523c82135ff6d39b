"""The audit trail: who did what to whose data, and when.

A row outlives what it describes (a deleted media keeps its row), so the target is named by type,
id and a label copied at the time, never by a foreign key that a deletion would cascade through.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

TARGET_LABEL_MAX_LENGTH = 255


class AuditAction(models.TextChoices):
    MEDIA_UPLOADED = "MEDIA_UPLOADED", "Media uploaded"
    LINK_SUBMITTED = "LINK_SUBMITTED", "Link submitted"
    MEDIA_DELETED = "MEDIA_DELETED", "Media deleted"
    RUN_STARTED = "RUN_STARTED", "Run started"
    RUN_FINISHED = "RUN_FINISHED", "Run finished"
    SHARE_LINK_CREATED = "SHARE_LINK_CREATED", "Share link created"
    SHARE_LINK_REVOKED = "SHARE_LINK_REVOKED", "Share link revoked"
    SHARE_LINK_VIEWED = "SHARE_LINK_VIEWED", "Share link opened"
    API_KEY_CREATED = "API_KEY_CREATED", "API key created"
    API_KEY_REVOKED = "API_KEY_REVOKED", "API key revoked"
    API_KEY_USED = "API_KEY_USED", "API key used"
    WEBHOOK_CREATED = "WEBHOOK_CREATED", "Webhook registered"
    WEBHOOK_DELETED = "WEBHOOK_DELETED", "Webhook removed"


class AuditVia(models.TextChoices):
    """How the actor reached the platform."""

    WEB = "WEB", "Web pages"
    API = "API", "API (token)"
    API_KEY = "API_KEY", "API key"
    SHARE_LINK = "SHARE_LINK", "Share link"
    SYSTEM = "SYSTEM", "The platform itself"


class AuditEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Whose trail this row belongs to: the owner of the data acted on.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_events"
    )
    # Who acted: empty for the platform itself and for someone holding a share link.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=TARGET_LABEL_MAX_LENGTH, blank=True, help_text="The actor as of the event."
    )
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    via = models.CharField(max_length=12, choices=AuditVia.choices, default=AuditVia.WEB)
    credential_label = models.CharField(
        max_length=TARGET_LABEL_MAX_LENGTH,
        blank=True,
        help_text="The API key or share link used, named as the owner knows it.",
    )
    target_type = models.CharField(max_length=30, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=TARGET_LABEL_MAX_LENGTH, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="audit_owner_created_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.target_label or self.target_id}"
