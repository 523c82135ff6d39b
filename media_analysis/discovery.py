"""Which inference-server models can analyse a media item, from a Redis-cached `/stats`.

The model list is never hard-coded: models appear on the server without notice. `/stats` is cached
for ML_STATS_CACHE_SECONDS so that a burst of uploads costs one request; failures are not cached,
so the first request after the server comes back sees it.

A model may declare the file extensions it reads (`accepted_formats`, an extension of the contract
described in `mlserver/CONTRACT.md`); it is then offered only files of those formats, so a
PNG never goes to a JPEG-only model to fail there. Without the list, every format of its media
types is offered, as the public server expects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from media_analysis import ml_client
from media_analysis.choices import MediaType
from media_analysis.models import Media


def stats_cache_key() -> str:
    """Per server URL, so that pointing ML_SERVER_URL elsewhere never serves the old list."""
    digest = hashlib.sha256(settings.ML_SERVER_URL.encode()).hexdigest()[:16]
    return f"pipeline:ml-stats:{digest}"


def _accepted_formats(value: Any) -> frozenset[str] | None:
    """The declared extensions, lower-case and without a dot; None when nothing usable is declared
    (then every format of the model's media types is offered)."""
    if not isinstance(value, list):
        return None
    formats = frozenset(
        item.strip().lstrip(".").lower() for item in value if isinstance(item, str) and item.strip()
    )
    return formats or None


@dataclass(frozen=True)
class InferenceModel:
    """One entry of `/stats` → `models_info` (whose flags are camelCase on the wire)."""

    name: str
    loaded: bool
    is_video: bool
    is_audio: bool
    is_image: bool
    is_multimodal: bool
    description: str = ""
    accepted_formats: frozenset[str] | None = None

    @classmethod
    def from_stats_entry(cls, entry: dict[str, Any]) -> InferenceModel:
        return cls(
            name=str(entry["name"]),
            loaded=entry.get("loaded") is True,
            is_video=entry.get("isVideo") is True,
            is_audio=entry.get("isAudio") is True,
            is_image=entry.get("isImage") is True,
            is_multimodal=entry.get("isMultiModal") is True,
            description=str(entry.get("description") or ""),
            accepted_formats=_accepted_formats(entry.get("accepted_formats")),
        )

    def can_analyse(self, *, media_type: str, has_audio: bool | None, extension: str) -> bool:
        """Whether this model runs on a media item of this type, stored with this extension.

        An audio-visual (multimodal) model needs a video with an audio track; one that is also
        flagged as audio runs on plain audio files as well. A model that declares its formats
        runs only on files of those.
        """
        if not self.loaded:
            return False
        if self.accepted_formats is not None and extension not in self.accepted_formats:
            return False
        if media_type == MediaType.VIDEO:
            if self.is_multimodal:
                return bool(has_audio)
            return self.is_video
        if media_type == MediaType.AUDIO:
            return self.is_audio
        if media_type == MediaType.IMAGE:
            return self.is_image
        return False


def stats_get(*, refresh: bool = False) -> dict[str, Any]:
    """The inference server's `/stats`, from the cache unless stale or `refresh`.

    Raises `ml_client.InferenceError` when the server cannot be asked.
    """
    if not refresh:
        cached = cache.get(stats_cache_key())
        if cached is not None:
            return cached
    stats = ml_client.stats_fetch()
    cache.set(stats_cache_key(), stats, timeout=settings.ML_STATS_CACHE_SECONDS)
    return stats


def models_list(*, refresh: bool = False) -> list[InferenceModel]:
    """Every model the server reports, loaded or not, in the server's order."""
    entries = stats_get(refresh=refresh)["models_info"]
    return [
        InferenceModel.from_stats_entry(entry)
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]
    ]


def model_can_analyse(*, model: InferenceModel, media: Media) -> bool:
    """Whether `model` runs on `media`, judged by the extension the file is sent to it with."""
    return model.can_analyse(
        media_type=media.media_type,
        has_audio=media.has_audio,
        extension=ml_client.upload_extension(media=media),
    )


def models_compatible(*, media: Media, refresh: bool = False) -> list[InferenceModel]:
    """The loaded models that can analyse `media`."""
    return [
        model
        for model in models_list(refresh=refresh)
        if model_can_analyse(model=model, media=media)
    ]
