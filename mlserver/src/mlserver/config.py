"""Server settings, read from the environment only.

Every limit the detectors use is a setting with a default, so an operator can trade cost
against coverage without touching code. Defaults suit a small CPU machine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_API_KEY = "dev-ml-key"
# The server's own folder under the system temporary directory (``TMPDIR``, else ``/tmp``).
DEFAULT_TEMP_DIR = Path(tempfile.gettempdir()) / "drishtiksha-mlserver"


@dataclass(frozen=True)
class Settings:
    """Immutable server configuration; build it with :meth:`from_env` or directly in tests."""

    api_key: str = DEFAULT_API_KEY
    host: str = "127.0.0.1"
    port: int = 8001
    # ``None`` means every built-in detector is active.
    active_models: tuple[str, ...] | None = None
    # ``None`` disables progress events entirely.
    redis_url: str | None = None
    progress_channel: str = "media-progress-events"
    # Frames sampled per video by the per-frame detectors (spectrum) and the number of
    # windows the temporal detector reports.
    max_sampled_frames: int = 48
    # Upper bound on frames the temporal detector decodes; longer videos are decimated.
    temporal_max_frames: int = 1800
    # Width (pixels) the temporal detector downscales frames to before differencing.
    temporal_frame_width: int = 480
    # Audio beyond this duration is not decoded (the result says so).
    audio_max_seconds: float = 600.0
    # Images above this many pixels (in any frame) are refused with a media-processing error.
    # Pillow refuses more than twice its own limit (about 179 MP) whatever this says.
    max_image_pixels: int = 50_000_000
    # Analyses running at once; more requests wait for a slot instead of thrashing the CPU.
    max_concurrent_analyses: int = 2
    # Wall-clock limit for one ffmpeg/ffprobe process.
    ffmpeg_timeout_seconds: float = 900.0
    # Connect/read timeout for Redis publishes, so a dead Redis cannot stall an analysis.
    redis_timeout_seconds: float = 2.0
    log_level: str = "info"
    # Where uploads are stored while they are analysed; stale ones are removed at start-up.
    temp_dir: Path = DEFAULT_TEMP_DIR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``); unset variables keep defaults.

        Raises ``ValueError`` naming the variable when a value cannot be parsed, so a typo
        fails at start-up rather than at the first request.
        """
        env = os.environ if environ is None else environ
        defaults = {f.name: f.default for f in fields(cls)}
        values: dict[str, Any] = {}
        for variable, (field_name, parse) in _ENVIRONMENT.items():
            raw = env.get(variable, "").strip()
            if not raw:
                continue
            try:
                values[field_name] = parse(raw)
            except ValueError as exc:
                raise ValueError(f"{variable}={raw!r} is invalid: {exc}") from exc
        if "redis_url" not in values:
            fallback = env.get("REDIS_URL", "").strip()
            if fallback:
                values["redis_url"] = fallback
        return cls(**{**defaults, **values})


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a TCP port number")
    return value


def _absolute_path(raw: str) -> Path:
    return Path(raw).expanduser().absolute()


def _name_list(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise ValueError("must name at least one model")
    return names


_ENVIRONMENT: dict[str, tuple[str, Callable[[str], Any]]] = {
    "MLSERVER_API_KEY": ("api_key", str),
    "MLSERVER_HOST": ("host", str),
    "MLSERVER_PORT": ("port", _port),
    "MLSERVER_ACTIVE_MODELS": ("active_models", _name_list),
    "MLSERVER_REDIS_URL": ("redis_url", str),
    "MEDIA_PROGRESS_CHANNEL_NAME": ("progress_channel", str),
    "MLSERVER_MAX_SAMPLED_FRAMES": ("max_sampled_frames", _positive_int),
    "MLSERVER_TEMPORAL_MAX_FRAMES": ("temporal_max_frames", _positive_int),
    "MLSERVER_TEMPORAL_FRAME_WIDTH": ("temporal_frame_width", _positive_int),
    "MLSERVER_AUDIO_MAX_SECONDS": ("audio_max_seconds", _positive_float),
    "MLSERVER_MAX_IMAGE_PIXELS": ("max_image_pixels", _positive_int),
    "MLSERVER_MAX_CONCURRENT_ANALYSES": ("max_concurrent_analyses", _positive_int),
    "MLSERVER_FFMPEG_TIMEOUT_SECONDS": ("ffmpeg_timeout_seconds", _positive_float),
    "MLSERVER_REDIS_TIMEOUT_SECONDS": ("redis_timeout_seconds", _positive_float),
    "MLSERVER_LOG_LEVEL": ("log_level", str.lower),
    "MLSERVER_TEMP_DIR": ("temp_dir", _absolute_path),
}
