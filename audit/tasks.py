"""Periodic audit-trail housekeeping."""

import logging

from celery import shared_task
from django.conf import settings

from audit.services import audit_events_purge

logger = logging.getLogger(__name__)


@shared_task(
    name="audit.audit_events_purge",
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
)
def audit_events_purge_task() -> int:
    """Drop audit rows past AUDIT_RETENTION_DAYS; the trail would otherwise grow forever."""
    purged = audit_events_purge()
    if purged:
        logger.info(
            "purged %d audit event(s) older than %d days", purged, settings.AUDIT_RETENTION_DAYS
        )
    return purged
