"""Share links: read-only access to one run's report and PDF for whoever holds the link.

A link is a random token shown once to its creator; only its SHA-256 is stored, so a copy of the
database does not hand out working links. A link works until it expires or its owner revokes it,
and an unknown, expired or revoked token all resolve to nothing, so the answer does not say which.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from audit.models import TARGET_LABEL_MAX_LENGTH, AuditAction, AuditVia
from audit.services import AuditContext, audit_record
from drishtiksha.errors import Conflict, NotFound, ValidationFailed
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, ShareLink

TOKEN_BYTES = 32
# Where the cache remembers that a link's opening was written to the audit trail.
VIEW_AUDIT_KEY = "share-link-viewed:{link_id}"


def share_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_link_expiry_choices() -> list[int]:
    """The lifetimes (in days) a link can be given, up to SHARE_LINK_MAX_DAYS."""
    maximum = settings.SHARE_LINK_MAX_DAYS
    days = sorted({d for d in (1, 7, 30, settings.SHARE_LINK_DEFAULT_DAYS) if d <= maximum})
    return days or [maximum]


def share_link_status(link: ShareLink) -> str:
    """The link's state for its owner's lists: revoked, expired or active."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= timezone.now():
        return "expired"
    return "active"


def _active(queryset: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
    return queryset.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


def share_link_list_for_run(*, run: AnalysisRun) -> list[ShareLink]:
    """Every link of `run`, newest first (active, expired and revoked)."""
    return list(ShareLink.objects.filter(run=run).order_by("-created_at"))


def share_link_get_for_user(*, user: User, link_id: uuid.UUID | str) -> ShareLink:
    """A link of one of `user`'s runs; someone else's, unknown or malformed ids are not found."""
    try:
        pk = link_id if isinstance(link_id, uuid.UUID) else uuid.UUID(str(link_id))
    except ValueError as exc:
        raise NotFound("Share link not found.") from exc
    link = (
        ShareLink.objects.filter(pk=pk, run__media__owner=user).select_related("run__media").first()
    )
    if link is None:
        raise NotFound("Share link not found.")
    return link


def share_link_create(
    *,
    run: AnalysisRun,
    created_by: User,
    label: str,
    expires_in: timedelta,
    audit: AuditContext,
) -> tuple[ShareLink, str]:
    """A new link to `run` and its token, which is never shown again.

    Raises ValidationFailed for a lifetime outside (0, SHARE_LINK_MAX_DAYS] and Conflict when the
    run already has SHARE_LINK_MAX_ACTIVE_PER_RUN active links.
    """
    if expires_in <= timedelta(0) or expires_in > timedelta(days=settings.SHARE_LINK_MAX_DAYS):
        raise ValidationFailed(
            f"A share link expires within {settings.SHARE_LINK_MAX_DAYS} days.",
            field_errors={"expiresInDays": "Out of range."},
        )
    label = label.strip()[: ShareLink._meta.get_field("label").max_length]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        # Locks the run so that two requests at once cannot both pass the limit.
        AnalysisRun.objects.select_for_update().filter(pk=run.pk).first()
        active = _active(ShareLink.objects.filter(run=run)).count()
        if active >= settings.SHARE_LINK_MAX_ACTIVE_PER_RUN:
            raise Conflict(f"This run already has {active} active share links; revoke one first.")
        link = ShareLink.objects.create(
            run=run,
            created_by=created_by,
            token_hash=share_token_hash(token),
            label=label,
            expires_at=timezone.now() + expires_in,
        )
        audit_record(
            action=AuditAction.SHARE_LINK_CREATED,
            owner_id=run.media.owner_id,
            context=audit,
            target=link,
            target_label=_target_label(link),
            details={"run_id": str(run.pk), "expires_at": link.expires_at.isoformat()},
        )
    return link, token


def share_link_revoke(*, link: ShareLink, audit: AuditContext) -> ShareLink:
    """Stop `link` from working; revoking a revoked link changes nothing and is not recorded."""
    with transaction.atomic():
        updated = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        link.refresh_from_db(fields=["revoked_at"])
        if updated:
            audit_record(
                action=AuditAction.SHARE_LINK_REVOKED,
                owner_id=link.run.media.owner_id,
                context=audit,
                target=link,
                target_label=_target_label(link),
                details={"run_id": str(link.run_id)},
            )
    return link


def share_link_resolve(*, token: str) -> ShareLink | None:
    """The active link `token` opens, with its run, media and analyses; None otherwise."""
    if not token or len(token) > 200:
        return None
    return (
        _active(ShareLink.objects.filter(token_hash=share_token_hash(token)))
        .select_related("run__media")
        .prefetch_related(
            Prefetch("run__analyses", queryset=DeepfakeAnalysis.objects.order_by("model_name"))
        )
        .first()
    )


def share_link_view_record(*, link: ShareLink, audit: AuditContext) -> None:
    """Count one opening of `link`; the audit trail hears of it at most once per
    SHARE_LINK_VIEW_AUDIT_INTERVAL_SECONDS, so a reader refreshing the page does not flood it."""
    ShareLink.objects.filter(pk=link.pk).update(
        view_count=F("view_count") + 1, last_viewed_at=timezone.now()
    )
    # `add` is atomic in Redis: of many openings at once, one writes the audit event.
    interval = settings.SHARE_LINK_VIEW_AUDIT_INTERVAL_SECONDS
    if not cache.add(VIEW_AUDIT_KEY.format(link_id=link.pk), 1, timeout=interval):
        return
    audit_record(
        action=AuditAction.SHARE_LINK_VIEWED,
        owner_id=link.run.media.owner_id,
        context=audit,
        target=link,
        target_label=_target_label(link),
        details={"run_id": str(link.run_id)},
    )


def share_audit_context(*, link: ShareLink, request: HttpRequest) -> AuditContext:
    """Who opens a shared page: the link (by its label), and the logged-in user if any."""
    user = getattr(request, "user", None)
    return AuditContext(
        actor=user if user is not None and user.is_authenticated else None,
        via=AuditVia.SHARE_LINK,
        credential_label=(link.label or "Share link")[:TARGET_LABEL_MAX_LENGTH],
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )


def _target_label(link: ShareLink) -> str:
    run = link.run
    name = f"{run.media.original_filename} run #{run.run_number}"
    return f"{link.label} ({name})" if link.label else name
