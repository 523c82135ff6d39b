"""What ffprobe says about a media file, and a poster thumbnail made with ffmpeg.

Both run on a local path: the upload is on disk already, and the management command ingests local
files. A file ffprobe cannot read, or from which no frame can be decoded, is refused as unreadable;
an audio file holding a video track, or a video file holding only sound, is refused as not matching
its extension.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg
from django.conf import settings

from drishtiksha.errors import UnsupportedMediaType, ValidationFailed
from media_analysis.choices import MediaType

logger = logging.getLogger(__name__)

# Where in a video the poster frame is taken: a little way in, since first frames are often black.
POSTER_POSITION_FRACTION = 0.1
POSTER_MAX_OFFSET_SECONDS = 1.0


@dataclass(frozen=True)
class ProbeResult:
    metadata: dict = field(default_factory=dict)
    has_audio: bool = False
    duration: float | None = None


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _integer(value) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _frame_rate(value: str | None) -> float | None:
    if not value or value in {"0/0", "0"}:
        return None
    try:
        return round(float(Fraction(value)), 3)
    except (ValueError, ZeroDivisionError):
        return None


def _is_picture_stream(stream: dict) -> bool:
    """Cover art inside an audio or video file is a video stream, but not a picture track."""
    return stream.get("codec_type") == "video" and not stream.get("disposition", {}).get(
        "attached_pic"
    )


def _unreadable(reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"The file could not be read as media: {reason}",
        field_errors={"media": f"The file could not be read as media: {reason}"},
    )


def probe_media(path: Path, *, media_type: MediaType) -> ProbeResult:
    """Run ffprobe and keep what the product shows: format, first picture and audio streams."""
    try:
        info = ffmpeg.probe(str(path), v="error")
    except ffmpeg.Error as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        logger.info("ffprobe refused %s: %s", path.name, detail[-1:] or "no output")
        raise _unreadable("it is damaged, truncated or not a media file.") from exc
    except (OSError, ValueError) as exc:
        raise _unreadable("ffprobe could not process it.") from exc

    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    picture = next((s for s in streams if _is_picture_stream(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)

    if media_type == MediaType.AUDIO and picture is not None:
        # Audio containers (MP4-family .m4a, Ogg) hold video just as well, and their signature
        # cannot tell the two apart: a renamed video would otherwise be analysed as a sound.
        # Cover art is no picture track (see `_is_picture_stream`) and is fine.
        raise UnsupportedMediaType(
            f"The file's content ({picture.get('codec_name') or 'a'} video) does not match its "
            "audio extension.",
            field_errors={"media": "Extension does not match content."},
        )
    if media_type == MediaType.VIDEO and picture is None and audio is not None:
        # The other way round: an .m4a renamed .mp4 is sound only, whatever its container says.
        raise UnsupportedMediaType(
            f"The file's content ({audio.get('codec_name') or 'an'} audio only) does not match "
            "its video extension.",
            field_errors={"media": "Extension does not match content."},
        )
    if media_type in (MediaType.VIDEO, MediaType.IMAGE) and picture is None:
        raise _unreadable(
            f"it has no {'video' if media_type == MediaType.VIDEO else 'image'} stream."
        )
    if media_type == MediaType.AUDIO and audio is None:
        raise _unreadable("it has no audio stream.")

    duration = _number(fmt.get("duration"))
    metadata: dict = {
        "format": {
            "formatName": fmt.get("format_name"),
            "duration": duration if media_type != MediaType.IMAGE else None,
            "bitRate": _integer(fmt.get("bit_rate")),
            "size": _integer(fmt.get("size")),
        }
    }
    if picture is not None:
        picture_info = {
            "codec": picture.get("codec_name"),
            "width": _integer(picture.get("width")),
            "height": _integer(picture.get("height")),
            "pixelFormat": picture.get("pix_fmt"),
        }
        if media_type == MediaType.VIDEO:
            picture_info.update(
                fps=_frame_rate(picture.get("avg_frame_rate"))
                or _frame_rate(picture.get("r_frame_rate")),
                bitRate=_integer(picture.get("bit_rate")),
                frameCount=_integer(picture.get("nb_frames")),
            )
        metadata["video" if media_type == MediaType.VIDEO else "image"] = picture_info
    if audio is not None and media_type != MediaType.IMAGE:
        metadata["audio"] = {
            "codec": audio.get("codec_name"),
            "sampleRate": _integer(audio.get("sample_rate")),
            "channels": _integer(audio.get("channels")),
            "bitRate": _integer(audio.get("bit_rate")),
        }
    return ProbeResult(metadata=metadata, has_audio=audio is not None, duration=duration)


def make_poster(
    source: Path, target: Path, *, media_type: MediaType, duration: float | None
) -> None:
    """Write a JPEG poster frame of a video or image to `target`; raise when none can be decoded."""
    offset = 0.0
    if media_type == MediaType.VIDEO and duration:
        offset = min(duration * POSTER_POSITION_FRACTION, POSTER_MAX_OFFSET_SECONDS)
    width = settings.THUMBNAIL_WIDTH
    stream = (
        # Seeking a single-frame input (a JPEG) yields no frame at all, so only videos seek.
        ffmpeg.input(str(source), **({"ss": offset} if offset else {}))
        .filter("scale", f"min({width},iw)", -2)
        .output(str(target), vframes=1, format="image2", vcodec="mjpeg", update=1)
        .global_args("-v", "error", "-nostdin")
        .overwrite_output()
    )
    process = stream.run_async(pipe_stdout=True, pipe_stderr=True)
    try:
        _, stderr = process.communicate(timeout=settings.FFMPEG_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.communicate()
        raise _unreadable("decoding a frame took too long.") from exc
    if process.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        logger.info(
            "no poster frame for %s: %s", source.name, stderr.decode(errors="replace")[-300:]
        )
        raise _unreadable("no frame could be decoded from it.")
