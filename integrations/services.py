"""Registering webhooks and announcing finished runs to them.

run closes ──(after commit, signal run_finished)──► webhooks_run_completed_enqueue ──► one PENDING
delivery per active webhook of the media's owner ──(on commit)──► integrations.delivery_attempt
                                                             │
delivery_attempt: claim the row (conditional UPDATE), check the URL again, POST the signed
body without following redirects, record the answer; a failure is retried with backoff until
WEBHOOK_MAX_ATTEMPTS, then FAILED.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import SYSTEM, AuditContext, audit_record
from drishtiksha.errors import Conflict, ValidationFailed
from drishtiksha.retry import backoff_delay
from drishtiksha.task_send import task_send
from drishtiksha.url_safety import UnsafeUrl, safe_session, url_check
from integrations.models import (
    DELIVERY_ERROR_MAX_LENGTH,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from integrations.task_names import DELIVERY_ATTEMPT
from media_analysis.models import AnalysisRun

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that names the kind of value, not a secret
SIGNATURE_HEADER = "X-Drishtiksha-Signature"
EVENT_HEADER = "X-Drishtiksha-Event"
DELIVERY_HEADER = "X-Drishtiksha-Delivery"
USER_AGENT = "Drishtiksha-Webhooks/1"
# A retry message may arrive a little before its row says it is due (clock granularity).
_EARLY_SLACK = timedelta(seconds=1)


# --- Registering ----------------------------------------------------------------------------------


def _allowed_schemes() -> tuple[str, ...]:
    return ("http", "https") if settings.WEBHOOK_ALLOW_HTTP else ("https",)


def webhook_url_validate(*, url: str) -> None:
    """Refuse a URL the platform would not deliver to; the reason names the `url` field."""
    try:
        url_check(url, schemes=_allowed_schemes())
    except UnsafeUrl as exc:
        raise ValidationFailed(str(exc), field_errors={"url": str(exc)}) from exc


def webhook_create(
    *, owner: User, url: str, description: str = "", context: AuditContext = SYSTEM
) -> Webhook:
    webhook_url_validate(url=url)
    with transaction.atomic():
        # The owner's row, locked, serializes concurrent registrations against the limit.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        if Webhook.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_PER_USER:
            raise Conflict(
                f"You can register at most {settings.WEBHOOK_MAX_PER_USER} webhooks;"
                " remove one first."
            )
        webhook = Webhook.objects.create(
            owner=owner,
            url=url,
            description=description,
            secret=SECRET_PREFIX + secrets.token_urlsafe(32),
        )
        audit_record(
            action=AuditAction.WEBHOOK_CREATED,
            owner_id=owner.pk,
            context=context,
            target=webhook,
            target_label=webhook.url,
        )
    return webhook


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> Webhook:
    if url is not None and url != webhook.url:
        webhook_url_validate(url=url)
        webhook.url = url
    if description is not None:
        webhook.description = description
    if is_active is not None:
        webhook.is_active = is_active
    webhook.save(update_fields=["url", "description", "is_active", "updated_at"])
    return webhook


def webhook_delete(*, webhook: Webhook, context: AuditContext = SYSTEM) -> None:
    with transaction.atomic():
        audit_record(
            action=AuditAction.WEBHOOK_DELETED,
            owner_id=webhook.owner_id,
            context=context,
            target=webhook,
            target_label=webhook.url,
        )
        webhook.delete()


# --- Creating deliveries --------------------------------------------------------------------------


def _absolute(path: str) -> str:
    """A link for a receiver outside the site: on `PUBLIC_BASE_URL` when configured."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else path


def run_summary(*, run: AnalysisRun) -> dict[str, Any]:
    """What a receiver learns of a finished run; `run` with its media and analyses loaded."""
    media = run.media
    return {
        "runId": str(run.pk),
        "runNumber": run.run_number,
        "mediaId": str(media.pk),
        "filename": media.original_filename,
        "mediaType": media.media_type,
        "status": run.status,
        "verdict": run.verdict,
        "verdictLabel": run.get_verdict_display() if run.verdict else "",
        "fakeScore": run.fake_score,
        "agreement": run.agreement,
        "verdictReason": run.verdict_reason,
        "errorMessage": run.error_message,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "models": [
            {
                "modelName": analysis.model_name,
                "status": analysis.status,
                "prediction": analysis.prediction,
                "confidence": analysis.confidence,
            }
            for analysis in sorted(run.analyses.all(), key=lambda a: a.model_name)
        ],
        "links": {
            "run": _absolute(reverse("media:run", kwargs={"run_id": run.pk})),
            "api": _absolute(reverse("media-api:detail", kwargs={"media_id": media.pk})),
        },
    }


def _deliveries_create(
    *, webhooks: list[Webhook], event: str, data: dict[str, Any], run_id: uuid.UUID | None
) -> list[WebhookDelivery]:
    deliveries = []
    with transaction.atomic():
        for webhook in webhooks:
            delivery_id = uuid.uuid4()
            payload = {
                "id": str(delivery_id),
                "event": event,
                "createdAt": timezone.now().isoformat(),
                "data": data,
            }
            deliveries.append(
                WebhookDelivery.objects.create(
                    id=delivery_id, webhook=webhook, event=event, run_id=run_id, payload=payload
                )
            )
        for delivery in deliveries:
            _deliver_enqueue(delivery_id=delivery.pk)
    return deliveries


def webhooks_run_completed_enqueue(*, run_id: uuid.UUID) -> list[WebhookDelivery]:
    """One delivery of `run.completed` to each active webhook of the run's owner."""
    run = (
        AnalysisRun.objects.select_related("media")
        .prefetch_related("analyses")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        return []
    webhooks = list(Webhook.objects.filter(owner_id=run.media.owner_id, is_active=True))
    if not webhooks:
        return []
    return _deliveries_create(
        webhooks=webhooks,
        event=WebhookEvent.RUN_COMPLETED,
        data=run_summary(run=run),
        run_id=run.pk,
    )


def webhook_test_send(*, webhook: Webhook) -> WebhookDelivery:
    """A `ping` event, so that the owner can see the receiver answer (and check the signature)."""
    if not webhook.is_active:
        raise Conflict("The webhook is disabled; enable it to send a test event.")
    (delivery,) = _deliveries_create(
        webhooks=[webhook],
        event=WebhookEvent.PING,
        data={"webhookId": str(webhook.pk), "message": "A test event from Drishtiksha."},
        run_id=None,
    )
    return delivery


def _deliver_enqueue(*, delivery_id: uuid.UUID, countdown: float = 0) -> None:
    # By name, like every service enqueues: the tasks module imports this one.
    def send() -> None:
        task_send(DELIVERY_ATTEMPT, {"delivery_id": str(delivery_id)}, countdown=countdown)

    send.__qualname__ = f"{DELIVERY_ATTEMPT}.apply_async"
    transaction.on_commit(send, robust=True)


# --- Delivering -----------------------------------------------------------------------------------


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _post(*, webhook: Webhook, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery once: (HTTP status or None, error or "" on a 2xx)."""
    try:
        url_check(webhook.url, schemes=_allowed_schemes())
    except UnsafeUrl as exc:
        return None, str(exc)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        SIGNATURE_HEADER: signature_header(
            secret=webhook.secret, timestamp=int(time.time()), body=body
        ),
    }
    timeout = (settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS, settings.WEBHOOK_READ_TIMEOUT_SECONDS)
    try:
        # Connects only to the addresses it checked itself: a name that resolved to a public
        # address for url_check cannot be switched to an internal one in between.
        with safe_session() as session:
            response = session.post(
                webhook.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
            response.close()
    except UnsafeUrl as exc:
        return None, str(exc)
    except requests.Timeout:
        return None, f"The receiver did not answer within {timeout[1]:g} seconds."
    except requests.ConnectionError:
        return None, "Could not connect to the receiver."
    except requests.RequestException as exc:
        return None, f"The request failed ({type(exc).__name__})."
    code = response.status_code
    if 200 <= code < 300:
        return code, ""
    if 300 <= code < 400:
        return code, f"HTTP {code}: redirects are not followed."
    return code, f"HTTP {code} from the receiver."


def deliveries_resume() -> list[str]:
    """Send again the pending deliveries overdue by `WEBHOOK_RESUME_AFTER_SECONDS` whose attempt
    is not in flight; the claim in `delivery_attempt` makes a message that was only late harmless.

    Cost: one indexed query and one message per delivery, at most WEBHOOK_RESUME_BATCH_SIZE.
    """
    now = timezone.now()
    overdue = now - timedelta(seconds=settings.WEBHOOK_RESUME_AFTER_SECONDS)
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(
            Q(next_attempt_at__isnull=True, created_at__lt=overdue) | Q(next_attempt_at__lt=overdue)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[: settings.WEBHOOK_RESUME_BATCH_SIZE]
    )
    for delivery_id in ids:
        _deliver_enqueue(delivery_id=delivery_id)
    if ids:
        logger.warning("resumed %d overdue webhook deliveries", len(ids))
    return [str(delivery_id) for delivery_id in ids]


def delivery_attempt(*, delivery_id: uuid.UUID | str) -> WebhookDelivery | None:
    """Make the next attempt of a pending delivery, unless another task holds it or its time has
    not come; returns the delivery as left, or None when this call did nothing."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + _EARLY_SLACK))
        .update(
            attempts=F("attempts") + 1,
            claimed_until=now + timedelta(seconds=settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS),
        )
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    if webhook.is_active:
        status_code, error = _post(webhook=webhook, delivery=delivery)
    else:
        status_code, error = None, "The webhook was disabled before this attempt."
    delivery.last_status_code = status_code
    delivery.last_error = error[:DELIVERY_ERROR_MAX_LENGTH]
    delivery.claimed_until = None
    retry_in = None
    if not error:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or not webhook.is_active:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        retry_in = backoff_delay(
            attempt=delivery.attempts,
            base=settings.WEBHOOK_RETRY_BACKOFF_SECONDS,
            cap=settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS,
        )
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
    with transaction.atomic():
        delivery.save(
            update_fields=[
                "status",
                "last_status_code",
                "last_error",
                "claimed_until",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        if retry_in is not None:
            _deliver_enqueue(delivery_id=delivery.pk, countdown=retry_in)
    logger.info(
        "webhook delivery %s attempt %s: %s", delivery.pk, delivery.attempts, error or "delivered"
    )
    return delivery
