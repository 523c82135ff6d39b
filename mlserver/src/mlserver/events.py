"""Progress events on Redis pub/sub, in the contract's JSON shape.

Events are a bonus for progress bars, never the source of truth (the HTTP answer is), so a
publish failure is logged and the analysis carries on. After the first failure within one
analysis the reporter stops trying, so a dead Redis costs one timeout per analysis, not one
per frame.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any, Protocol

import redis

logger = logging.getLogger(__name__)


class EventType(StrEnum):
    """Event names of the contract."""

    FRAME_ANALYSIS_PROGRESS = "FRAME_ANALYSIS_PROGRESS"
    AUDIO_EXTRACTION_START = "AUDIO_EXTRACTION_START"
    AUDIO_EXTRACTION_COMPLETE = "AUDIO_EXTRACTION_COMPLETE"
    SPECTROGRAM_GENERATION_START = "SPECTROGRAM_GENERATION_START"
    SPECTROGRAM_GENERATION_COMPLETE = "SPECTROGRAM_GENERATION_COMPLETE"
    ANALYSIS_COMPLETE = "ANALYSIS_COMPLETE"
    ANALYSIS_FAILED = "ANALYSIS_FAILED"


class Publisher(Protocol):
    def publish(self, message: str) -> None: ...


class RedisPublisher:
    """Publishes JSON strings on one Redis channel.

    The client connects lazily and is thread-safe (connection pool), so one instance serves
    every analysis thread.
    """

    def __init__(self, url: str, channel: str, *, timeout_seconds: float) -> None:
        self.channel = channel
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
        )

    def publish(self, message: str) -> None:
        self._client.publish(self.channel, message)

    def close(self) -> None:
        self._client.close()


class ProgressReporter:
    """Per-analysis event emitter; silent unless a publisher, a media id and a user id exist."""

    def __init__(
        self,
        publisher: Publisher | None,
        *,
        model_name: str,
        media_id: str | None,
        user_id: str | None,
        correlation_id: str,
    ) -> None:
        self._publisher = publisher if media_id and user_id else None
        self._model_name = model_name
        self._media_id = media_id
        self._user_id = user_id
        self._correlation_id = correlation_id

    @property
    def enabled(self) -> bool:
        return self._publisher is not None

    def emit(
        self,
        event: EventType,
        message: str,
        *,
        progress: int | None = None,
        total: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Publish one event; never raises."""
        if self._publisher is None:
            return
        payload = {
            "media_id": self._media_id,
            "user_id": self._user_id,
            "event": str(event),
            "message": message,
            "data": {
                "model_name": self._model_name,
                "progress": progress,
                "total": total,
                "details": details,
            },
        }
        try:
            self._publisher.publish(json.dumps(payload))
        except Exception:  # any publish failure must leave the analysis running
            logger.warning(
                "Progress event %s for media %s could not be published; no further events "
                "for this analysis [correlation_id=%s]",
                event,
                self._media_id,
                self._correlation_id,
                exc_info=True,
            )
            self._publisher = None

    def frame_progress(self, done: int, total: int, unit: str = "frame") -> None:
        self.emit(
            EventType.FRAME_ANALYSIS_PROGRESS,
            f"Processed {unit} {done}/{total}",
            progress=done,
            total=total,
        )
