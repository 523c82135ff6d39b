"""The audit trail's links to webhooks (see `audit.targets`)."""

from __future__ import annotations

from audit.targets import audit_target_kind_register
from integrations.models import Webhook


def audit_targets_register() -> None:
    audit_target_kind_register(
        kind=Webhook._meta.model_name,
        route="integrations:webhook",
        owned_ids=lambda viewer, ids: Webhook.objects.filter(owner=viewer, pk__in=ids).values_list(
            "pk", flat=True
        ),
    )
