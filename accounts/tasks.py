"""Periodic account housekeeping."""

from celery import shared_task
from django.conf import settings
from django.core.management import call_command


@shared_task(
    name="accounts.expired_tokens_flush",
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def expired_tokens_flush_task() -> None:
    """Drop refresh-token records past their expiry: they can no longer be used or revoked.

    Every login and refresh adds a row to the outstanding and blacklist tables; without this
    they would grow forever.
    """
    call_command("flushexpiredtokens")
