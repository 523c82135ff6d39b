"""Webhooks and their delivery log in the admin; the log is a record, read-only."""

from __future__ import annotations

from django.contrib import admin

from drishtiksha.admin_site import ReadOnlyAdmin, pretty_json
from integrations.models import Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "description", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description", "owner__email")
    list_select_related = ("owner",)
    fields = ("owner", "url", "description", "is_active", "created_at", "updated_at")
    readonly_fields = ("owner", "created_at", "updated_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "webhook", "event", "status", "attempts", "last_status_code")
    list_filter = ("status", "event")
    search_fields = ("webhook__url", "run_id")
    list_select_related = ("webhook",)
    date_hierarchy = "created_at"
    fields = (
        "webhook",
        "event",
        "run_id",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "payload_display",
    )
    readonly_fields = fields

    @admin.display(description="Payload")
    def payload_display(self, delivery: WebhookDelivery) -> str:
        return pretty_json(delivery.payload)
