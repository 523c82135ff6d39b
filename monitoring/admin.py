"""Inference-server health history in the admin: a record of checks, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from drishtiksha.admin_site import ReadOnlyAdmin, pretty_json
from monitoring.models import ServerHealth


@admin.register(ServerHealth)
class ServerHealthAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "status", "response_time_ms", "models_loaded", "error_message")
    list_filter = ("status", "checked_at")
    date_hierarchy = "checked_at"
    fields = ("checked_at", "status", "response_time_ms", "error_message", "stats_display")
    readonly_fields = fields

    @admin.display(description="Models loaded")
    def models_loaded(self, health: ServerHealth) -> str:
        payload: Any = health.stats_payload or {}
        loaded, total = payload.get("active_models_count"), payload.get("total_models_count")
        return f"{loaded} of {total}" if loaded is not None and total is not None else "—"

    @admin.display(description="/stats answer")
    def stats_display(self, health: ServerHealth) -> str:
        return pretty_json(health.stats_payload)
