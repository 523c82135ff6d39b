"""The progress relay: the inference server's Redis progress events, forwarded to their owners.

The inference server publishes `{"media_id", "user_id", "event", "message", "data": {"model_name",
"progress", "total", …}}` on a pub/sub channel. These events are a bonus for progress bars, never
the source of truth, so the relay trusts nothing in them: an event is forwarded only when it names
a media item of that user with an analysis of that model still in progress; everything else is
dropped and counted. The server's own "complete"/"failed" events are not forwarded: the HTTP
answer to `/analyze` decides those.

Progress is written to the database at most once per RELAY_PROGRESS_WRITE_INTERVAL_SECONDS per
analysis (every event is still forwarded live), so that a video with thousands of frames does not
turn into thousands of writes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.events import analysis_progress_publish
from media_analysis.models import DeepfakeAnalysis

logger = logging.getLogger(__name__)

# Server events worth showing as progress. The terminal ones (ANALYSIS_COMPLETE, ANALYSIS_FAILED)
# and names this relay does not know are counted as ignored.
FORWARDED_EVENTS = frozenset(
    {
        "FRAME_ANALYSIS_PROGRESS",
        "AUDIO_EXTRACTION_START",
        "AUDIO_EXTRACTION_COMPLETE",
        "SPECTROGRAM_GENERATION_START",
        "SPECTROGRAM_GENERATION_COMPLETE",
    }
)
PUBSUB_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ServerProgress:
    """A well-formed server event."""

    media_id: uuid.UUID
    user_id: uuid.UUID
    event: str
    model_name: str
    message: str
    progress: int | None
    total: int | None


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a count: {value!r}")
    return value


def progress_parse(raw: bytes | str) -> ServerProgress:
    """Validate one pub/sub message; raises ValueError when it is malformed."""
    body = json.loads(raw)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ValueError("not an event object")
    data = body["data"]
    event, model_name = body.get("event"), data.get("model_name")
    if not isinstance(event, str) or not isinstance(model_name, str) or not model_name:
        raise ValueError("event or model name missing")
    message = body.get("message")
    return ServerProgress(
        media_id=uuid.UUID(str(body.get("media_id"))),
        user_id=uuid.UUID(str(body.get("user_id"))),
        event=event,
        model_name=model_name,
        message=message if isinstance(message, str) else "",
        progress=_count(data.get("progress")),
        total=_count(data.get("total")),
    )


class ProgressRelay:
    """Forwards server progress events; `counters` says what became of each one."""

    def __init__(
        self,
        *,
        write_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write_interval = (
            settings.RELAY_PROGRESS_WRITE_INTERVAL_SECONDS
            if write_interval is None
            else write_interval
        )
        self.counters: Counter[str] = Counter()
        self._clock = clock
        self._last_write: dict[uuid.UUID, float] = {}

    def _analysis_for(self, progress: ServerProgress) -> DeepfakeAnalysis | None:
        return (
            DeepfakeAnalysis.objects.filter(
                run__media_id=progress.media_id,
                run__media__owner_id=progress.user_id,
                run__status__in=RunStatus.active(),
                model_name=progress.model_name,
                status__in=[AnalysisStatus.PENDING, AnalysisStatus.PROCESSING],
            )
            .order_by("-run__run_number")
            .first()
        )

    def _should_write(self, analysis_id: uuid.UUID, progress: ServerProgress) -> bool:
        if progress.progress is None:
            return False
        now = self._clock()
        last = self._last_write.get(analysis_id)
        if last is not None and now - last < self.write_interval:
            return False
        self._last_write[analysis_id] = now
        return True

    def handle(self, raw: bytes | str) -> str:
        """Forward or drop one raw message; returns the counter it was counted under."""
        self.counters["received"] += 1
        try:
            progress = progress_parse(raw)
        except (ValueError, TypeError):
            return self._counted("malformed")
        if progress.event not in FORWARDED_EVENTS:
            return self._counted("ignored")
        try:
            analysis = self._analysis_for(progress)
        except DatabaseError:
            logger.warning("relay: database error while matching an event", exc_info=True)
            return self._counted("errors")
        if analysis is None:
            return self._counted("foreign")
        persist = self._should_write(analysis.pk, progress)
        analysis_progress_publish(
            analysis=analysis,
            user_id=progress.user_id,
            media_id=progress.media_id,
            progress=progress.progress,
            total=progress.total,
            message=progress.message,
            stage=progress.event,
            persist=persist,
        )
        if persist:
            self.counters["db_writes"] += 1
        return self._counted("forwarded")

    def _handle_safely(self, raw: bytes | str) -> None:
        # One unexpected message must not take the relay down for everybody.
        try:
            self.handle(raw)
        except Exception:  # noqa: BLE001 - counted and logged, then on to the next message
            self.counters["errors"] += 1
            logger.exception("relay: could not handle a message")

    def _counted(self, name: str) -> str:
        self.counters[name] += 1
        return name

    def log_counters(self) -> None:
        logger.info("relay counters: %s", dict(sorted(self.counters.items())))
        # Forget analyses not written to for a while, so the map does not grow forever.
        horizon = self._clock() - max(self.write_interval, 1.0) * 60
        self._last_write = {key: at for key, at in self._last_write.items() if at >= horizon}

    def run(self, *, redis_url: str, channel: str, stop: threading.Event) -> None:
        """Subscribe and forward until `stop` is set, reconnecting after any Redis failure."""
        delay = settings.RELAY_RECONNECT_DELAY_SECONDS
        next_log = self._clock() + settings.RELAY_STATS_LOG_INTERVAL_SECONDS
        while not stop.is_set():
            client = redis.Redis.from_url(redis_url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(channel)
                logger.info("relay subscribed to %s", channel)
                delay = settings.RELAY_RECONNECT_DELAY_SECONDS
                while not stop.is_set():
                    message = pubsub.get_message(timeout=PUBSUB_POLL_SECONDS)
                    if message is not None and message.get("type") == "message":
                        close_old_connections()
                        self._handle_safely(message["data"])
                    if self._clock() >= next_log:
                        self.log_counters()
                        next_log = self._clock() + settings.RELAY_STATS_LOG_INTERVAL_SECONDS
            except redis.RedisError as exc:
                self.counters["reconnects"] += 1
                logger.warning("relay lost Redis (%s); reconnecting in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, settings.RELAY_RECONNECT_DELAY_MAX_SECONDS)
            finally:
                pubsub.close()
                client.close()
