"""API keys: create, revoke and authenticate the credentials that integrations use.

A key acts as its owner, so every endpoint's owner scoping applies to it unchanged. The secret is
returned once by `api_key_create` and only its SHA-256 is stored (see `ApiKey`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import API_KEY_MARKER, API_KEY_PREFIX_LENGTH, ApiKey, User
from audit.models import AuditAction, AuditVia
from audit.services import AuditContext, audit_record
from drishtiksha.errors import Conflict, NotFound, ValidationFailed

DUPLICATE_NAME_MESSAGE = "You already have an active API key with this name."
BLANK_NAME_MESSAGE = "Give the key a name, so you can tell it apart later."
# The unique prefix is 48 random bits; a clash is all but impossible, but never an error.
_PREFIX_ATTEMPTS = 5


def api_key_hash(*, secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    """Every key of `user`, revoked ones included, newest first."""
    return ApiKey.objects.filter(owner=user).order_by("-created_at", "-id")


def api_key_get_for_user(*, user: User, key_id: object) -> ApiKey:
    """The key `key_id` of `user`; someone else's key is as missing as one that never existed."""
    key = api_keys_for_user(user=user).filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    return key


def _max_keys_message(limit: int) -> str:
    return f"You already have {limit} active API keys; revoke one before creating another."


@transaction.atomic
def api_key_create(*, owner: User, name: str, audit: AuditContext) -> tuple[ApiKey, str]:
    """A new key for `owner`; returns it with its secret, which is never available again."""
    name = name.strip()
    if not name:
        raise ValidationFailed(BLANK_NAME_MESSAGE, field_errors={"name": BLANK_NAME_MESSAGE})
    # Locking the owner serialises concurrent creations, so the limit cannot be raced past.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    active = ApiKey.objects.filter(owner=owner, revoked_at__isnull=True)
    limit = settings.API_KEYS_MAX_PER_USER
    if active.count() >= limit:
        raise Conflict(_max_keys_message(limit))
    if active.filter(name__iexact=name).exists():
        raise Conflict(DUPLICATE_NAME_MESSAGE, field_errors={"name": DUPLICATE_NAME_MESSAGE})
    for attempt in range(_PREFIX_ATTEMPTS):
        secret = API_KEY_MARKER + secrets.token_urlsafe(32)
        prefix = secret[: len(API_KEY_MARKER) + API_KEY_PREFIX_LENGTH]
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    owner=owner, name=name, prefix=prefix, key_hash=api_key_hash(secret=secret)
                )
        except IntegrityError as exc:
            # The owner row is locked, so only a prefix clash with another user can land here.
            if attempt == _PREFIX_ATTEMPTS - 1:
                raise Conflict("Could not create the key; try again.") from exc
            continue
        break
    audit_record(action=AuditAction.API_KEY_CREATED, owner_id=owner.pk, context=audit, target=key)
    return key, secret


@transaction.atomic
def api_key_revoke(*, key: ApiKey, audit: AuditContext) -> ApiKey:
    """Revoke `key` for good; revoking a revoked key changes nothing and records nothing."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    key.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit_record(
            action=AuditAction.API_KEY_REVOKED, owner_id=key.owner_id, context=audit, target=key
        )
    return key


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key whose secret this is, with its owner loaded; None otherwise.

    The lookup is by the hash through a unique index, so no comparison ever runs on the secret
    itself and response times say nothing about how much of a guess was right.
    """
    if not secret.startswith(API_KEY_MARKER):
        return None
    key = (
        ApiKey.objects.select_related("owner")
        .filter(key_hash=api_key_hash(secret=secret), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.owner.is_active:
        return None
    return key


def _is_recent(moment, *, seconds: int, now) -> bool:
    return moment is not None and moment > now - timedelta(seconds=seconds)


def api_key_record_use(*, key: ApiKey, method: str, path: str, ip_address: str | None) -> None:
    """Note that `key` was just used: `last_used_at`, and now and then an audit row.

    Both writes are conditional UPDATEs: the key row as loaded says whether one is due (so most
    requests write nothing), and the condition lets only one of several concurrent requests win.
    """
    now = timezone.now()
    resolution = settings.API_KEY_LAST_USED_RESOLUTION_SECONDS
    if not _is_recent(key.last_used_at, seconds=resolution, now=now):
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - timedelta(seconds=resolution))
        ).update(last_used_at=now)
        key.last_used_at = now
    interval = settings.API_KEY_USE_AUDIT_INTERVAL_SECONDS
    if _is_recent(key.use_audited_at, seconds=interval, now=now):
        return
    won = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(
            Q(use_audited_at__isnull=True)
            | Q(use_audited_at__lte=now - timedelta(seconds=interval))
        )
        .update(use_audited_at=now)
    )
    key.use_audited_at = now
    if won:
        audit_record(
            action=AuditAction.API_KEY_USED,
            owner_id=key.owner_id,
            context=AuditContext(
                actor=key.owner,
                via=AuditVia.API_KEY,
                credential_label=str(key),
                ip_address=ip_address,
            ),
            target=key,
            details={"method": method, "path": path},
        )
