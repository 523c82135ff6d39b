"""The housekeeping task that closes an evaluation started from the admin.

Registered through CELERY_IMPORTS (autodiscovery imports only `media_analysis.tasks`).
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from media_analysis import task_names
from media_analysis.evaluation.models import Evaluation
from media_analysis.evaluation.services import evaluation_finish_if_settled

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name=task_names.EVALUATION_FINALIZE,
    soft_time_limit=settings.HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS,
    # Bounded by EVALUATION_TIMEOUT_SECONDS in the service, not by a retry count.
    max_retries=None,
)
def evaluation_finalize_task(self: Task, *, evaluation_id: str) -> str | None:
    """Store the evaluation's measurements once all its runs are final; until then look again
    every EVALUATION_POLL_SECONDS. Cost: two count queries per look, one pass over the
    evaluation's analyses at the end."""
    try:
        evaluation = evaluation_finish_if_settled(evaluation_id=evaluation_id)
    except Evaluation.DoesNotExist:
        logger.info("evaluation %s was deleted before it finished", evaluation_id)
        return None
    if evaluation is None:
        raise self.retry(countdown=settings.EVALUATION_POLL_SECONDS)
    return evaluation.status
