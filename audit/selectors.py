"""Reading the audit trail: one owner's rows, filtered, and what each row's target is now."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditAction, AuditEvent, AuditVia
from audit.targets import audit_target_kind_get, audit_target_of
from drishtiksha.errors import ValidationFailed

if TYPE_CHECKING:
    from accounts.models import User

SYSTEM_ACTOR_NAME = "Drishtiksha"
SHARE_LINK_READER_NAME = "Shared link reader"
OWNER_ACTOR_NAME = "You"


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    # Inclusive bounds on `created_at`; a date given alone covers the whole of that local day.
    since: datetime | None = None
    until: datetime | None = None


def _moment(raw: str, *, field: str, end_of_day: bool) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        # The date first: `parse_datetime` also reads a bare date, as its midnight.
        day: date | None = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        moment, day = None, None
    if moment is None and day is None:
        message = "Give a date (2026-01-31) or an ISO 8601 date and time."
        raise ValidationFailed(f"{field}: {message}", field_errors={field: message})
    if moment is None:
        start = datetime.combine(day, time.min)
        moment = start + timedelta(days=1, microseconds=-1) if end_of_day else start
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def audit_filters_parse(*, action: str = "", since: str = "", until: str = "") -> AuditFilters:
    """Filters from query parameters; ValidationFailed names the one that cannot be read."""
    action = (action or "").strip()
    if action and action not in AuditAction.values:
        message = f"Unknown action. Choose from: {', '.join(AuditAction.values)}."
        raise ValidationFailed(message, field_errors={"action": message})
    filters = AuditFilters(
        action=action,
        since=_moment(since, field="since", end_of_day=False),
        until=_moment(until, field="until", end_of_day=True),
    )
    if filters.since and filters.until and filters.since > filters.until:
        message = "The start of the range is after its end."
        raise ValidationFailed(message, field_errors={"since": message})
    return filters


def audit_events_for_owner(
    *, owner: User, filters: AuditFilters | None = None
) -> QuerySet[AuditEvent]:
    """The trail of `owner`'s data, newest first; never anybody else's rows."""
    filters = filters or AuditFilters()
    events = AuditEvent.objects.filter(owner=owner)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lte=filters.until)
    return events.order_by("-created_at", "-id")


def audit_actor_name(*, event: AuditEvent, viewer: User) -> str:
    """Who acted, as the owner reads it: "You", someone's email, a link reader or the platform."""
    if event.actor_id is not None and event.actor_id == viewer.pk:
        return OWNER_ACTOR_NAME
    if event.actor_label:
        return event.actor_label
    if event.via == AuditVia.SHARE_LINK:
        return SHARE_LINK_READER_NAME
    return SYSTEM_ACTOR_NAME


def audit_target_urls(*, events: list[AuditEvent], viewer: User) -> dict[Any, str]:
    """The page of each event's target that still exists and is `viewer`'s, by event id.

    One query per kind of target on the page (media, runs, webhooks), whatever its size. A share
    link leads to the run it shares. The kinds are registered by the apps that own them
    (`audit.targets`).
    """
    wanted: dict[str, set[str]] = defaultdict(set)
    pointers: dict[Any, tuple[str, str]] = {}
    for event in events:
        kind, key = audit_target_of(event)
        if key and audit_target_kind_get(kind) is not None:
            wanted[kind].add(key)
            pointers[event.pk] = (kind, key)
    existing = {
        kind: {str(pk) for pk in audit_target_kind_get(kind).owned_ids(viewer, _uuids(keys))}
        for kind, keys in wanted.items()
    }
    return {
        event_id: reverse(audit_target_kind_get(kind).route, args=[key])
        for event_id, (kind, key) in pointers.items()
        if key in existing.get(kind, ())
    }


def _uuids(keys: set[str]) -> list[str]:
    """The keys that are UUIDs: a target id is free text, a primary key lookup is not."""
    valid = []
    for key in keys:
        try:
            valid.append(str(uuid.UUID(key)))
        except ValueError:
            continue
    return valid
