"""The task queues: what waits in the broker, what the workers hold, and what finished recently.

Asked live (the broker's list lengths, Celery's `inspect` broadcasts), so a caller that must not
wait on the workers reads the kept figures of `monitoring.snapshot` instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count, Q

from drishtiksha.celery import app as celery_app
from drishtiksha.errors import ServiceUnavailable
from media_analysis.choices import AnalysisStatus
from media_analysis.models import DeepfakeAnalysis
from media_analysis.pipeline.common import ANSWERED_ANALYSIS_STATUSES
from monitoring.windows import recent_window_start


@dataclass(frozen=True)
class QueueCounts:
    name: str
    pending_jobs: int
    active_jobs: int
    delayed_jobs: int


@dataclass(frozen=True)
class QueueStatus:
    """Jobs waiting in the broker, held by workers, and finished recently.

    `active_jobs` and `delayed_jobs` come from the workers themselves: with no worker online they
    are 0 and `workers_online` says why.
    """

    pending_jobs: int
    active_jobs: int
    delayed_jobs: int
    completed_jobs: int
    failed_jobs: int
    workers_online: int
    workers: list[str]
    queues: list[QueueCounts]
    window_hours: int


def _monitored_queues() -> list[str]:
    return [settings.ANALYSIS_QUEUE, settings.HOUSEKEEPING_QUEUE]


def _broker_queue_lengths(queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each queue.

    On the Redis broker a queue is a list named after it; messages without a priority (all of
    ours) are in that list, so its length is what is waiting.
    """
    timeout = settings.REDIS_HEALTH_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        pipeline = client.pipeline(transaction=False)
        for queue in queues:
            pipeline.llen(queue)
        lengths = pipeline.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("The message broker cannot be reached.") from exc
    finally:
        client.close()
    return dict(zip(queues, lengths, strict=True))


def _queue_of(task: dict[str, Any]) -> str:
    """The queue a task reported by `inspect` came from (direct routing: its routing key)."""
    request = task.get("request", task)  # `scheduled()` wraps the task in {"eta", "request"}
    return str((request.get("delivery_info") or {}).get("routing_key") or "")


def _count_by_queue(replies: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for tasks in replies.values():
        for task in tasks:
            counts[_queue_of(task)] += 1
    return counts


def _worker_snapshot() -> tuple[dict[str, list], dict[str, list], dict[str, list]]:
    """(active, scheduled, reserved) tasks per worker; empty when no worker answers.

    The first broadcast waits the whole timeout; once the workers are known, the next two return
    as soon as every one of them has answered.
    """
    timeout = settings.MONITORING_INSPECT_TIMEOUT_SECONDS
    active = celery_app.control.inspect(timeout=timeout).active() or {}
    if not active:
        return {}, {}, {}
    inspector = celery_app.control.inspect(timeout=timeout, limit=len(active))
    return active, inspector.scheduled() or {}, inspector.reserved() or {}


def queue_status_get() -> QueueStatus:
    """Pending jobs from the broker, active and delayed ones from the workers, and the analyses
    finished within MONITORING_RECENT_WINDOW_HOURS from the database.

    Delayed means held by a worker but not started: scheduled for later (a retry's countdown) or
    reserved (prefetched). Raises `ServiceUnavailable` when the broker cannot be reached.
    """
    queues = _monitored_queues()
    pending = _broker_queue_lengths(queues)
    active, scheduled, reserved = _worker_snapshot()
    active_by_queue = _count_by_queue(active)
    delayed_by_queue = _count_by_queue(scheduled)
    for name, count in _count_by_queue(reserved).items():
        delayed_by_queue[name] += count
    finished = DeepfakeAnalysis.objects.filter(finished_at__gte=recent_window_start()).aggregate(
        # A job that ended in "no evidence" did its work: completed, not failed.
        completed=Count("pk", filter=Q(status__in=ANSWERED_ANALYSIS_STATUSES)),
        failed=Count("pk", filter=Q(status=AnalysisStatus.FAILED)),
    )
    return QueueStatus(
        pending_jobs=sum(pending.values()),
        active_jobs=sum(active_by_queue.values()),
        delayed_jobs=sum(delayed_by_queue.values()),
        completed_jobs=finished["completed"],
        failed_jobs=finished["failed"],
        workers_online=len(active),
        workers=sorted(active),
        queues=[
            QueueCounts(
                name=name,
                pending_jobs=pending[name],
                active_jobs=active_by_queue.get(name, 0),
                delayed_jobs=delayed_by_queue.get(name, 0),
            )
            for name in queues
        ],
        window_hours=settings.MONITORING_RECENT_WINDOW_HOURS,
    )
