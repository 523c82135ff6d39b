"""The one progress publisher: every progress event of the pipeline leaves through here.

Events go to the owner's Channels group as `{"type": "progress.event", "event": {...}}`; the
websocket consumer forwards `event` to the browser unchanged. Each event is

    {"event": "ANALYSIS_COMPLETED", "mediaId": "…", "runId": "…", "modelName": "SIGLIP-LSTM-V4",
     "timestamp": "2025-10-12T10:00:00.123456Z", "sequence": 7, "data": {…}}

with `modelName` null for run-level events and `sequence` increasing per run (a Redis counter),
so a client can order events that parallel workers delivered out of order and drop stale ones.
The current state is also in the database (statuses, and `progress` / `total` per analysis), so a
client that connects late starts from a snapshot rather than from the event history.

Publishing is best effort: a failure is logged and swallowed, because losing a progress update
must never fail an analysis.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from media_analysis.choices import AnalysisStatus
from media_analysis.models import DeepfakeAnalysis
from media_analysis.redis_connection import redis_client, redis_key

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "progress.event"


class ProgressEvent(enum.StrEnum):
    ANALYSIS_QUEUED = "ANALYSIS_QUEUED"
    ANALYSIS_STARTED = "ANALYSIS_STARTED"
    FRAME_ANALYSIS_PROGRESS = "FRAME_ANALYSIS_PROGRESS"
    ANALYSIS_COMPLETED = "ANALYSIS_COMPLETED"
    ANALYSIS_FAILED = "ANALYSIS_FAILED"
    RUN_COMPLETED = "RUN_COMPLETED"


def user_group_name(user_id: uuid.UUID | str) -> str:
    """The Channels group of one user's connections."""
    return f"user.{user_id}"


@dataclass(frozen=True)
class _Publisher:
    pid: int
    loop: asyncio.AbstractEventLoop
    # Sends run one at a time in the order they were handed over: asyncio's lock wakes its
    # waiters first come, first served, and each send takes it before its first await.
    order: asyncio.Lock


_publisher_lock = threading.Lock()
_publisher_current: _Publisher | None = None


def _publisher() -> _Publisher:
    """This process's publishing event loop, running in a daemon thread.

    The channel layer keeps its Redis connections per event loop; one long-lived loop lets every
    event reuse them instead of connecting anew (as a fresh `async_to_sync` loop per call would).
    Created lazily and again after a fork, since threads do not survive into a worker child.
    """
    global _publisher_current
    with _publisher_lock:
        if _publisher_current is None or _publisher_current.pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="progress-publisher", daemon=True
            ).start()
            _publisher_current = _Publisher(pid=os.getpid(), loop=loop, order=asyncio.Lock())
        return _publisher_current


async def _group_send_in_order(
    group: str, messages: list[dict[str, Any]], order: asyncio.Lock
) -> None:
    async with order:
        layer = get_channel_layer()
        for message in messages:
            await layer.group_send(group, message)


def _group_send(group: str, messages: list[dict[str, Any]], *, wait: bool) -> None:
    """Send `messages` to `group` after every send this process handed over before.

    With `wait`, return once they are out (and raise if they could not be sent); without, return
    at once and only log a failure: the caller need not wait on Redis for an event that nothing
    after it depends on, and a later waited-for send still goes out behind it.
    """
    publisher = _publisher()
    future = asyncio.run_coroutine_threadsafe(
        _group_send_in_order(group, messages, publisher.order), publisher.loop
    )
    if wait:
        future.result(timeout=settings.PROGRESS_PUBLISH_TIMEOUT_SECONDS)
    else:
        future.add_done_callback(_log_send_failure)


def _log_send_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("could not publish a progress event", exc_info=future.exception())


def _next_sequences(run_id: uuid.UUID | str, count: int) -> range:
    """`count` consecutive sequence numbers of the run, from one Redis round trip."""
    key = redis_key("run-sequence", run_id)
    pipeline = redis_client().pipeline(transaction=False)
    pipeline.incrby(key, count)
    pipeline.expire(key, settings.PROGRESS_SEQUENCE_TTL_SECONDS)
    last, _ = pipeline.execute()
    return range(int(last) - count + 1, int(last) + 1)


@dataclass(frozen=True)
class EventSpec:
    """One event of a batch for `events_publish`: what happened, to which model, with what."""

    event: ProgressEvent
    model_name: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def events_publish(
    *,
    user_id: uuid.UUID | str,
    media_id: uuid.UUID | str,
    run_id: uuid.UUID | str,
    events: Sequence[EventSpec],
    wait: bool = True,
) -> list[dict[str, Any]] | None:
    """Send several events of one run to the user's group, numbered consecutively and delivered
    in the order given; returns them, or None when they could not be sent.

    Without `wait`, the events are numbered at once but sent in the background, behind what this
    process sent before and ahead of what it sends next; a failure to send them is then only
    logged.

    One sequence allocation and one hand-over to the publishing loop for the whole batch, so that
    the N queued events of a starting run cost about as much as one.
    """
    try:
        timestamp = timezone.now().isoformat().replace("+00:00", "Z")
        payloads = [
            {
                "event": str(spec.event),
                "mediaId": str(media_id),
                "runId": str(run_id),
                "modelName": spec.model_name,
                "timestamp": timestamp,
                "sequence": sequence,
                "data": spec.data,
            }
            for spec, sequence in zip(events, _next_sequences(run_id, len(events)), strict=True)
        ]
        _group_send(
            user_group_name(user_id),
            [{"type": MESSAGE_TYPE, "event": payload} for payload in payloads],
            wait=wait,
        )
    except Exception:  # noqa: BLE001 - progress is a bonus; never fail the caller over it
        names = ", ".join(str(spec.event) for spec in events)
        logger.warning("could not publish %s for run %s", names, run_id, exc_info=True)
        return None
    return payloads


def event_publish(
    *,
    event: ProgressEvent,
    user_id: uuid.UUID | str,
    media_id: uuid.UUID | str,
    run_id: uuid.UUID | str,
    model_name: str | None = None,
    data: dict[str, Any] | None = None,
    wait: bool = True,
) -> dict[str, Any] | None:
    """Send one event to the user's group; returns it, or None when it could not be sent.
    `wait` as for `events_publish`."""
    published = events_publish(
        user_id=user_id,
        media_id=media_id,
        run_id=run_id,
        events=[EventSpec(event, model_name, data or {})],
        wait=wait,
    )
    return None if published is None else published[0]


def analysis_progress_publish(
    *,
    analysis: DeepfakeAnalysis,
    user_id: uuid.UUID | str,
    media_id: uuid.UUID | str,
    progress: int | None,
    total: int | None,
    message: str = "",
    stage: str = "",
    persist: bool = True,
) -> dict[str, Any] | None:
    """Record one model's progress (unless `persist` is off) and publish it.

    The write only touches an analysis still in progress, so a late progress message can never
    overwrite a finished one.
    """
    if persist and progress is not None:
        try:
            DeepfakeAnalysis.objects.filter(
                pk=analysis.pk, status__in=[AnalysisStatus.PENDING, AnalysisStatus.PROCESSING]
            ).update(progress=progress, total=total, updated_at=timezone.now())
        except Exception:  # noqa: BLE001 - same rule as publishing: progress never fails a caller
            logger.warning("could not record progress of analysis %s", analysis.pk, exc_info=True)
    return event_publish(
        event=ProgressEvent.FRAME_ANALYSIS_PROGRESS,
        user_id=user_id,
        media_id=media_id,
        run_id=analysis.run_id,
        model_name=analysis.model_name,
        data={
            "analysisId": str(analysis.pk),
            "progress": progress,
            "total": total,
            "message": message,
            "stage": stage,
        },
    )


def run_final_event_sent(*, run_id: uuid.UUID | str, analysis_id: uuid.UUID | str) -> int:
    """Note that the final event (ANALYSIS_COMPLETED or _FAILED) of `analysis_id` has been sent;
    returns how many analyses of the run have had theirs sent.

    A set, so that a redelivered task counts once. This is what lets RUN_COMPLETED be the last
    event of a run even when the last model's task finalizes the run itself: its siblings may
    have stored their results but still be sending their events.
    """
    key = redis_key("run-final-events", run_id)
    pipeline = redis_client().pipeline(transaction=False)
    pipeline.sadd(key, str(analysis_id))
    pipeline.expire(key, settings.PROGRESS_SEQUENCE_TTL_SECONDS)
    pipeline.scard(key)
    _, _, count = pipeline.execute()
    return int(count)


def run_sequences_current(*, run_ids: list[uuid.UUID | str]) -> dict[str, int]:
    """The last sequence number given out per run (0 for a run without events yet).

    Read *before* the rows of a snapshot, these tell a client which events the snapshot already
    contains: publishers record their change first and only then number and send the event, so
    every event numbered up to this value had written its change before the snapshot was read.
    """
    if not run_ids:
        return {}
    values = redis_client().mget([redis_key("run-sequence", run_id) for run_id in run_ids])
    return {str(run_id): int(value or 0) for run_id, value in zip(run_ids, values, strict=True)}
