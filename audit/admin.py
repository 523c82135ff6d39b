"""The audit trail in the admin: searchable and filterable, and read-only for everyone.

A trail that staff could edit or prune by hand would prove nothing, so no one (superusers
included) may add, change or delete a row here; old rows go by AUDIT_RETENTION_DAYS only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "owner", "actor_label", "action", "via", "target_summary"]
    list_filter = ["action", "via", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["owner__email", "target_label", "target_id", "actor_label"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    ordering = ["-created_at", "-id"]
    fields = [
        "created_at",
        "owner",
        "actor",
        "actor_label",
        "action",
        "via",
        "credential_label",
        "target_type",
        "target_id",
        "target_label",
        "details",
        "ip_address",
    ]
    readonly_fields = fields
    # The owner and actor columns need no picker: nothing here is editable.
    raw_id_fields = ["owner", "actor"]

    @admin.display(description="Target", ordering="target_label")
    def target_summary(self, event: AuditEvent) -> str:
        label = event.target_label or event.target_id
        return f"{event.target_type}: {label}" if event.target_type else label

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
