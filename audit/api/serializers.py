"""Wire shape of `/api/v1/audit`: camelCase, explicit fields, read-only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import AuditEvent
from audit.selectors import audit_actor_name
from drishtiksha.api.serializers import CamelCaseModelSerializer


class AuditEventSerializer(CamelCaseModelSerializer):
    """One row of the caller's trail. `actorName` is "You" for the caller, another user's email,
    "Shared link reader" or "Drishtiksha" (the platform); `actorEmail` is the acting user's email
    as of the event, null when no user acted."""

    action_label = serializers.CharField(source="get_action_display", read_only=True)
    via_label = serializers.CharField(source="get_via_display", read_only=True)
    actor_name = serializers.SerializerMethodField()
    actor_email = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "action_label",
            "actor_name",
            "actor_email",
            "via",
            "via_label",
            "credential_label",
            "target_type",
            "target_id",
            "target_label",
            "details",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_actor_name(self, event: AuditEvent) -> str:
        return audit_actor_name(event=event, viewer=self.context["request"].user)

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_actor_email(self, event: AuditEvent) -> str | None:
        return event.actor_label or None
