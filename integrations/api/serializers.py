"""Wire shapes of `/api/v1/webhooks`: camelCase, explicit fields, the secret only where asked."""

from __future__ import annotations

from rest_framework import serializers

from drishtiksha.api.serializers import CamelCaseModelSerializer, CamelCaseSerializer
from integrations.models import (
    WEBHOOK_DESCRIPTION_MAX_LENGTH,
    WEBHOOK_URL_MAX_LENGTH,
    Webhook,
    WebhookDelivery,
)


class WebhookSerializer(CamelCaseModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookWithSecretSerializer(CamelCaseModelSerializer):
    """One webhook with its signing secret: for its owner, on creation and on its detail."""

    class Meta:
        model = Webhook
        fields = ["id", "url", "description", "is_active", "secret", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookCreateSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    url = serializers.URLField(max_length=WEBHOOK_URL_MAX_LENGTH)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=WEBHOOK_DESCRIPTION_MAX_LENGTH, default=""
    )


class WebhookUpdateSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    url = serializers.URLField(required=False, max_length=WEBHOOK_URL_MAX_LENGTH)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=WEBHOOK_DESCRIPTION_MAX_LENGTH
    )
    is_active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(CamelCaseModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "run_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields
