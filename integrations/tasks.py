"""Celery tasks of the integrations: thin interfaces that pass ids to `integrations.services`."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from integrations import task_names
from integrations.services import deliveries_resume, delivery_attempt


@shared_task(
    name=task_names.DELIVERY_ATTEMPT,
    time_limit=settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS,
    # Retries are new messages with a countdown (see the service); attempts live on the row.
    max_retries=None,
    ignore_result=True,
)
def delivery_attempt_task(*, delivery_id: str) -> None:
    delivery_attempt(delivery_id=delivery_id)


@shared_task(
    name=task_names.DELIVERIES_RESUME,
    time_limit=settings.WEBHOOK_TASK_TIME_LIMIT_SECONDS,
)
def deliveries_resume_task() -> list[str]:
    return deliveries_resume()
