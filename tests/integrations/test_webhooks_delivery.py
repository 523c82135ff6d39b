"""Deliveries to a real HTTP receiver: signing, retries with backoff, URL rules at send time."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from drishtiksha.celery import app as celery_app
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.services import (
    deliveries_resume,
    delivery_attempt,
    webhook_create,
    webhook_test_send,
    webhook_update,
    webhooks_run_completed_enqueue,
)
from media_analysis.choices import AnalysisStatus, RunStatus, Verdict
from media_analysis.models import Media
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, UserFactory
from tests.fixtures.pipeline import stored_media, wait_for


def verify(*, secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as the README documents it."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_secret_by_the_documented_algorithm(local_webhooks, receiver):
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)
    delivery = webhook_test_send(webhook=webhook)

    delivery_attempt(delivery_id=delivery.pk)

    (request,) = receiver.requests
    assert verify(
        secret=webhook.secret, header=request.headers["X-Drishtiksha-Signature"], body=request.body
    )
    assert not verify(
        secret=webhook.secret + "x",
        header=request.headers["X-Drishtiksha-Signature"],
        body=request.body,
    )
    assert request.headers["X-Drishtiksha-Event"] == "ping"
    assert request.headers["X-Drishtiksha-Delivery"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Drishtiksha-Webhooks/1"
    assert json.loads(request.body)["id"] == str(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert delivery.delivered_at is not None


@pytest.mark.django_db
def test_a_claimed_delivery_is_not_sent_twice(local_webhooks, receiver):
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)
    delivery = webhook_test_send(webhook=webhook)
    # Another worker is mid-attempt: its claim has not run out.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=timezone.now() + timedelta(minutes=1)
    )

    assert delivery_attempt(delivery_id=delivery.pk) is None
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


@pytest.mark.django_db
def test_a_run_summary_names_the_verdict_and_every_model(local_webhooks, receiver):
    local_webhooks.PUBLIC_BASE_URL = "https://drishtiksha.example"
    owner = UserFactory()
    webhook = webhook_create(owner=owner, url=receiver.url)
    disabled = webhook_create(owner=owner, url=receiver.url + "/disabled")
    webhook_update(webhook=disabled, is_active=False)
    webhook_create(owner=UserFactory(), url=receiver.url + "/someone-else")
    media = stored_media(owner=owner, original_filename="clip.mp4")
    run = AnalysisRunFactory(
        media=media, status=RunStatus.ANALYZED, verdict=Verdict.FAKE, fake_score=0.7
    )
    DeepfakeAnalysisFactory(
        run=run, model_name="M-1", status=AnalysisStatus.COMPLETED, prediction="FAKE"
    )

    (delivery,) = webhooks_run_completed_enqueue(run_id=run.pk)

    assert delivery.webhook == webhook
    data = delivery.payload["data"]
    assert delivery.payload["event"] == "run.completed"
    assert data["runId"] == str(run.pk) and data["mediaId"] == str(media.pk)
    assert data["filename"] == "clip.mp4"
    assert (data["verdict"], data["verdictLabel"]) == ("FAKE", "Likely deepfake")
    assert [m["modelName"] for m in data["models"]] == ["M-1"]
    assert data["links"]["run"] == f"https://drishtiksha.example/runs/{run.pk}/"
    assert data["links"]["api"] == f"https://drishtiksha.example/api/v1/media/{media.pk}"


@pytest.mark.django_db
def test_a_redirect_is_a_failed_attempt_and_is_not_followed(local_webhooks, receiver):
    # 307 keeps the method: a client that followed it would POST to /elsewhere.
    receiver.answer_with((307, {"Location": "/elsewhere"}))
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)
    delivery = webhook_test_send(webhook=webhook)

    delivery_attempt(delivery_id=delivery.pk)

    assert [r.path for r in receiver.requests] == ["/hook"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 307
    assert "redirect" in delivery.last_error
    assert delivery.next_attempt_at is not None


@pytest.mark.django_db
def test_an_address_no_longer_allowed_is_refused_at_delivery(local_webhooks, receiver):
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)
    delivery = webhook_test_send(webhook=webhook)
    local_webhooks.URL_FETCH_ALLOWED_NETWORKS = []

    delivery_attempt(delivery_id=delivery.pk)

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert "private or reserved" in delivery.last_error


@pytest.mark.django_db(transaction=True)
def test_a_receiver_answering_500_then_200_gets_a_retry(local_webhooks, receiver, pipeline_worker):
    receiver.answer_with(500, 200)
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)

    delivery = webhook_test_send(webhook=webhook)

    done = wait_for(
        lambda: WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SUCCEEDED
        ).first()
    )
    assert (done.attempts, done.last_status_code, done.last_error) == (2, 200, "")
    assert len(receiver.requests) == 2
    # The same delivery id both times: a receiver can drop the repeat of a delivery it handled.
    assert {r.headers["X-Drishtiksha-Delivery"] for r in receiver.requests} == {str(delivery.pk)}


@pytest.mark.django_db(transaction=True)
def test_a_delivery_failing_every_attempt_ends_failed(local_webhooks, receiver, pipeline_worker):
    local_webhooks.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer_with(500)
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)

    delivery = webhook_test_send(webhook=webhook)

    done = wait_for(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).first()
    )
    assert (done.attempts, done.last_status_code) == (3, 500)
    assert done.last_error == "HTTP 500 from the receiver."
    assert done.next_attempt_at is None
    assert len(receiver.requests) == 3


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_is_delivered_once_with_its_summary(
    local_webhooks, receiver, media_file, fake_inference, pipeline_worker
):
    owner = UserFactory()
    webhook = webhook_create(owner=owner, url=receiver.url)
    client = APIClient()
    client.force_authenticate(owner)
    clip = media_file("briefing.mp4")

    response = client.post(
        "/api/v1/media",
        {"media": SimpleUploadedFile(clip.name, clip.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    media_id = response.json()["data"]["id"]
    wait_for(lambda: Media.objects.get(pk=media_id).status in RunStatus.final())
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(
            webhook=webhook, status=DeliveryStatus.SUCCEEDED
        ).first()
    )

    assert WebhookDelivery.objects.count() == 1
    assert delivery.event == WebhookEvent.RUN_COMPLETED
    (request,) = receiver.requests
    assert verify(
        secret=webhook.secret, header=request.headers["X-Drishtiksha-Signature"], body=request.body
    )
    data = json.loads(request.body)["data"]
    run = Media.objects.get(pk=media_id).latest_run
    assert data["runId"] == str(run.pk) == str(delivery.run_id)
    assert data["runNumber"] == 1
    assert data["status"] == RunStatus.ANALYZED
    assert data["verdict"] == Verdict.FAKE
    assert data["fakeScore"] == pytest.approx(0.7)
    assert {m["modelName"] for m in data["models"]} == {m.name for m in fake_inference.models}
    assert {m["status"] for m in data["models"]} == {AnalysisStatus.COMPLETED}


@pytest.mark.django_db(transaction=True)
def test_an_overdue_delivery_whose_message_was_lost_is_sent_by_the_sweep(
    local_webhooks, receiver, pipeline_worker
):
    local_webhooks.WEBHOOK_RESUME_AFTER_SECONDS = 60
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)
    # Rows as a broker outage at enqueue time leaves them: pending, with no message anywhere.
    lost = WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={"id": "lost"})
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    recent = WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={})

    resumed = deliveries_resume()

    assert resumed == [str(lost.pk)]
    wait_for(
        lambda: WebhookDelivery.objects.filter(pk=lost.pk, status=DeliveryStatus.SUCCEEDED).exists()
    )
    assert [json.loads(r.body)["id"] for r in receiver.requests] == ["lost"]
    recent.refresh_from_db()
    assert (recent.status, recent.attempts) == (DeliveryStatus.PENDING, 0)


def test_the_sweep_is_scheduled_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["resume-webhook-deliveries"]
    assert entry["task"] in celery_app.tasks


@pytest.mark.django_db
def test_a_delivery_to_a_webhook_disabled_meanwhile_is_not_sent(local_webhooks, receiver):
    webhook = webhook_create(owner=UserFactory(), url=receiver.url)
    delivery = webhook_test_send(webhook=webhook)
    webhook_update(webhook=webhook, is_active=False)

    delivery_attempt(delivery_id=delivery.pk)

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "disabled" in delivery.last_error


@pytest.mark.django_db
def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(local_webhooks):
    # Accepts the connection (the kernel's backlog) and never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    local_webhooks.WEBHOOK_READ_TIMEOUT_SECONDS = 0.2
    try:
        port = silent.getsockname()[1]
        webhook = webhook_create(owner=UserFactory(), url=f"http://127.0.0.1:{port}/hook")
        delivery = webhook_test_send(webhook=webhook)

        delivery_attempt(delivery_id=delivery.pk)
    finally:
        silent.close()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == "The receiver did not answer within 0.2 seconds."
    assert delivery.last_status_code is None
