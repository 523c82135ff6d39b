"""Writing the audit trail: callers name the action, the request (if any) names the actor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit.models import TARGET_LABEL_MAX_LENGTH, AuditAction, AuditEvent, AuditVia

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and how: read once from the request, handed to the services that write."""

    actor: User | None = None
    via: AuditVia = AuditVia.SYSTEM
    credential_label: str = ""
    ip_address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


SYSTEM = AuditContext()


def audit_context_from_request(request: Any) -> AuditContext:
    """The actor of a page or API request.

    An API key authenticates with `request.auth` set to the key, which says so with
    `is_api_key` and names itself with `str()`; any other API authentication is a token.
    """
    user = getattr(request, "user", None)
    actor = user if user is not None and user.is_authenticated else None
    auth = getattr(request, "auth", None)
    if getattr(auth, "is_api_key", False):
        via, credential = AuditVia.API_KEY, str(auth)
    elif request.path.startswith("/api/"):
        via, credential = AuditVia.API, ""
    else:
        via, credential = AuditVia.WEB, ""
    return AuditContext(
        actor=actor,
        via=via,
        credential_label=credential[:TARGET_LABEL_MAX_LENGTH],
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )


def audit_record(
    *,
    action: AuditAction,
    owner_id: uuid.UUID | str,
    context: AuditContext = SYSTEM,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """One row of the trail of user `owner_id`; `target` fills type, id and label not given."""
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(target.pk)
        target_label = target_label or str(target)
    actor = context.actor
    return AuditEvent.objects.create(
        owner_id=owner_id,
        actor=actor,
        actor_label=(actor.email if actor is not None else "")[:TARGET_LABEL_MAX_LENGTH],
        action=action,
        via=context.via,
        credential_label=context.credential_label,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:TARGET_LABEL_MAX_LENGTH],
        details={**context.extra, **(details or {})},
        ip_address=context.ip_address,
    )


def audit_events_purge(*, now: datetime | None = None) -> int:
    """Delete the rows older than AUDIT_RETENTION_DAYS (none when it is 0); how many went.

    In batches of AUDIT_PURGE_BATCH_SIZE, so that a first purge of a long trail never holds one
    huge delete's locks while uploads write new rows.
    """
    days = settings.AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = AuditEvent.objects.filter(created_at__lt=cutoff)
    purged = 0
    while True:
        batch = list(old.values_list("pk", flat=True)[: settings.AUDIT_PURGE_BATCH_SIZE])
        if not batch:
            return purged
        deleted, _ = AuditEvent.objects.filter(pk__in=batch).delete()
        purged += deleted
