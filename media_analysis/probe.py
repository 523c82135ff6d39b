"""What ffprobe says about a media file, and a poster thumbnail made with ffmpeg.

Both run on a local path: the upload is on disk already, and the management command ingests local
files. A file ffprobe cannot read, or from which no frame can be decoded, is refused as unreadable;
an audio file holding a video track, or a video file holding only sound, is refused as not matching
its extension.

Both read the upload and nothing else. ffmpeg's demuxer is chosen from the content, and some
demuxers open other files that the content names (HLS and concat playlists, image2 sequences): a
107-byte ".mp3" holding an ID3 tag and a playlist made ffprobe read the server's own files. So
ffmpeg may use only the demuxers the file's signature implies (`formats.DEMUXERS`) and only the
`file` protocol; content read as any other format is refused with 415 before anything it names is
opened, so the answer is the same whether a named path exists or not.

Images above `MAX_IMAGE_PIXELS` in any frame are refused: decoding one takes memory in proportion
to its pixels, whatever the size of the file (a 250 KB PNG can hold 16000 × 16000 pixels).
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
from media_analysis.formats import DEMUXERS, SIGNATURE_BYTES, sniff_container
from media_analysis.image_frames import gif_frame_extents

logger = logging.getLogger(__name__)

# Where in a video the poster frame is taken: a little way in, since first frames are often black.
POSTER_POSITION_FRACTION = 0.1
POSTER_MAX_OFFSET_SECONDS = 1.0
# What ffmpeg says when the content would need a demuxer outside the allowed ones.
NOT_ON_WHITELIST = "Format not on whitelist"
IMAGE_SEQUENCE = "image2"
# What makes image2 read a numbered or globbed series of files instead of the one named.
SEQUENCE_PATTERN_CHARACTERS = "%*?[]{}"
MEGAPIXEL = 1_000_000


@dataclass(frozen=True)
class ProbeResult:
    metadata: dict = field(default_factory=dict)
    has_audio: bool = False
    duration: float | None = None
    demuxer: str = ""


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


def allowed_demuxers(path: Path) -> tuple[str, ...]:
    """The ffmpeg demuxers that may read this file, from its signature."""
    with path.open("rb") as handle:
        container = sniff_container(handle.read(SIGNATURE_BYTES))
    if container is None:
        raise _unreadable("its content is not a media format Drishtiksha accepts.")
    return DEMUXERS[container]


def _refused_format() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "The file's content is not the media format its first bytes claim: ffmpeg would read it "
        "as another format (such as a playlist or an image sequence, which name other files), "
        "and those are refused.",
        field_errors={"media": "Extension does not match content."},
    )


def _pixel_limit_check(path: Path, picture: dict, demuxer: str) -> None:
    """Refuse an image with a frame above `MAX_IMAGE_PIXELS` (every frame of a GIF is walked)."""
    extents = [(_integer(picture.get("width")) or 0, _integer(picture.get("height")) or 0)]
    if demuxer == "gif":
        extents.extend(gif_frame_extents(path))
    width, height = max(extents, key=lambda extent: extent[0] * extent[1])
    limit = settings.MAX_IMAGE_PIXELS
    if width * height > limit:
        message = (
            f"The image is too large: a frame of {width} × {height} pixels "
            f"({width * height / MEGAPIXEL:.1f} megapixels); the limit is "
            f"{limit / MEGAPIXEL:g} megapixels per frame."
        )
        raise ValidationFailed(message, field_errors={"media": message})


def _ffprobe(path: Path, **options: str) -> dict:
    try:
        return ffmpeg.probe(str(path), v="error", protocol_whitelist="file", **options)
    except ffmpeg.Error as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        logger.info("ffprobe refused %s: %s", path.name, detail[-1:] or "no output")
        if any(NOT_ON_WHITELIST in line for line in detail):
            raise _refused_format() from exc
        raise _unreadable("it is damaged, truncated or not a media file.") from exc
    except (OSError, ValueError) as exc:
        raise _unreadable("ffprobe could not process it.") from exc


def probe_media(path: Path, *, media_type: MediaType) -> ProbeResult:
    """Run ffprobe and keep what the product shows: format, first picture and audio streams."""
    demuxers = allowed_demuxers(path)
    # ffprobe names what the content is; any demuxer but the allowed ones stops it there. A
    # picture whose file name ends like one may be taken for a one-image image2 "sequence",
    # harmless for a name without pattern characters (uploads have such names); it is then
    # read again as what it is.
    single_name = not any(character in path.name for character in SEQUENCE_PATTERN_CHARACTERS)
    sequence_detectable = media_type == MediaType.IMAGE and single_name
    detectable = (*demuxers, IMAGE_SEQUENCE) if sequence_detectable else demuxers
    info = _ffprobe(path, format_whitelist=",".join(detectable))
    demuxer = ((info.get("format") or {}).get("format_name") or "").split(",")[0]
    if demuxer == IMAGE_SEQUENCE:
        demuxer = demuxers[0]
        info = _ffprobe(path, f=demuxer)
    if demuxer not in demuxers:  # the whitelist already holds ffprobe to these
        raise _refused_format()

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
    if media_type == MediaType.IMAGE:
        _pixel_limit_check(path, picture, demuxer)

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
    return ProbeResult(
        metadata=metadata, has_audio=audio is not None, duration=duration, demuxer=demuxer
    )


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
        # Read as the probe read it: the demuxer the signature implies, local files only.
        ffmpeg.input(
            str(source),
            f=allowed_demuxers(source)[0],
            protocol_whitelist="file",
            **({"ss": offset} if offset else {}),
        )
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
