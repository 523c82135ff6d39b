"""Media typing, probing and decoding.

All audio and video decoding goes through ffmpeg subprocesses so every container and codec
ffmpeg knows works the same way, and so decoding runs outside the Python interpreter (it does
not hold the GIL). Frames are streamed from a pipe one at a time: a video is never held in
memory as a whole.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from mlserver.errors import MediaProcessingError

# ffmpeg's last lines of stderr are enough to say why decoding failed.
_STDERR_TAIL_CHARS = 300
_EIGHT_BIT_MAX = 255.0
_SIXTEEN_BIT_MAX = 65535.0


class MediaType(StrEnum):
    """Media kinds of the contract (lower-case, as in result payloads)."""

    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"


_EXTENSIONS: dict[str, MediaType] = {
    **dict.fromkeys(
        ("mp4", "m4v", "mov", "webm", "mkv", "avi", "mpeg", "mpg", "wmv", "flv", "3gp", "ts"),
        MediaType.VIDEO,
    ),
    **dict.fromkeys(
        ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"),
        MediaType.IMAGE,
    ),
    **dict.fromkeys(
        ("mp3", "wav", "ogg", "oga", "opus", "m4a", "aac", "flac", "wma", "aiff", "aif"),
        MediaType.AUDIO,
    ),
}


def media_type_for_filename(filename: str) -> MediaType | None:
    """Decide the media type from the filename's extension, as the contract requires.

    The contract makes the extension authoritative (a client must send a correct one), so
    the content is not sniffed here; a file whose content disagrees fails later with a
    media-processing error.
    """
    suffix = Path(filename).suffix.lower().lstrip(".")
    return _EXTENSIONS.get(suffix)


@dataclass(frozen=True)
class MediaFile:
    """An uploaded file on disk, with the type decided from its original name."""

    path: Path
    media_type: MediaType
    filename: str


@dataclass(frozen=True)
class VideoStream:
    width: int
    height: int
    frame_count: int | None
    frames_per_second: float | None


@dataclass(frozen=True)
class AudioStream:
    sample_rate: int
    channels: int
    codec: str | None


@dataclass(frozen=True)
class ProbeResult:
    """What ffprobe says about a container; only the fields the detectors use."""

    format_name: str | None
    duration_seconds: float | None
    video: VideoStream | None
    audio: AudioStream | None
    # Container tags first, then each stream's tags, as (where, key, value).
    tags: list[tuple[str, str, str]] = field(default_factory=list)


def probe(path: Path, *, timeout: float, count_frames: bool = False) -> ProbeResult:
    """Run ffprobe on ``path``.

    ``count_frames`` demuxes the whole file to count video packets, which is exact for every
    container (``nb_frames`` is missing in WebM/MKV) and costs a read of the file, not a decode.
    """
    command = [
        "ffprobe",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    if count_frames:
        command.append("-count_packets")
    command.append(str(path))
    completed = _run(command, timeout=timeout)
    if completed.returncode != 0:
        raise MediaProcessingError(f"the file could not be read ({_tail(completed.stderr)})")
    try:
        info = json.loads(completed.stdout)
    except json.JSONDecodeError as exc:
        raise MediaProcessingError("the file could not be read (unparseable probe output)") from exc
    return _probe_result(info)


def _probe_result(info: dict[str, Any]) -> ProbeResult:
    container = info.get("format") or {}
    streams = info.get("streams") or []
    tags = [("format", str(k), str(v)) for k, v in (container.get("tags") or {}).items()]
    video: VideoStream | None = None
    audio: AudioStream | None = None
    for stream in streams:
        kind = stream.get("codec_type")
        where = f"stream {stream.get('index', '?')} ({kind})"
        tags.extend((where, str(k), str(v)) for k, v in (stream.get("tags") or {}).items())
        disposition = stream.get("disposition") or {}
        if kind == "video" and video is None and not disposition.get("attached_pic"):
            video = VideoStream(
                width=int(stream.get("width") or 0),
                height=int(stream.get("height") or 0),
                frame_count=_int_or_none(stream.get("nb_read_packets") or stream.get("nb_frames")),
                frames_per_second=_rate(stream.get("avg_frame_rate")),
            )
        elif kind == "audio" and audio is None:
            audio = AudioStream(
                sample_rate=int(stream.get("sample_rate") or 0),
                channels=int(stream.get("channels") or 0),
                codec=stream.get("codec_name"),
            )
    return ProbeResult(
        format_name=container.get("format_name"),
        duration_seconds=_float_or_none(container.get("duration")),
        video=video,
        audio=audio,
        tags=tags,
    )


def iter_video_frames(
    path: Path,
    video: VideoStream,
    *,
    stride: int,
    max_frames: int,
    timeout: float,
    width: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, gray_frame)`` for every ``stride``-th frame, at most ``max_frames``.

    ``video`` is the stream as probed. Frames are 8-bit luminance (``uint8``, H x W);
    ``width`` downscales with area averaging (never upscales). Rotation metadata is ignored
    on purpose: the statistics do not depend on orientation, and keeping the coded size lets
    the frame size be computed up front.
    """
    if video.width <= 0 or video.height <= 0:
        raise MediaProcessingError("the file has no decodable video stream")
    out_width, out_height = video.width, video.height
    filters = [f"select=not(mod(n\\,{stride}))"]
    if width is not None and width < out_width:
        out_height = max(2, round(out_height * width / out_width / 2) * 2)
        out_width = width
        filters.append(f"scale={out_width}:{out_height}:flags=area")
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-nostdin",
        "-noautorotate",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        ",".join(filters),
        "-fps_mode",
        "passthrough",
        "-frames:v",
        str(max_frames),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "pipe:1",
    ]
    frame_bytes = out_width * out_height
    produced = 0
    with _Pipe(command, timeout=timeout) as pipe:
        while True:
            buffer = pipe.read_exactly(frame_bytes)
            if buffer is None:
                break
            yield produced * stride, np.frombuffer(buffer, np.uint8).reshape(out_height, out_width)
            produced += 1
        if pipe.timed_out:
            raise MediaProcessingError(f"decoding took longer than {timeout:.0f} s")
        # A damaged tail after good frames is tolerated: the frames read are still valid.
        if pipe.failed() and produced == 0:
            raise MediaProcessingError(f"the video could not be decoded ({pipe.error_text()})")
    if produced == 0:
        raise MediaProcessingError("the video contains no decodable frames")


def decode_audio(path: Path, *, sample_rate: int, max_seconds: float, timeout: float) -> np.ndarray:
    """Decode the first audio stream to mono float32 PCM at ``sample_rate``.

    Downmixing and resampling are ffmpeg's; at most ``max_seconds`` are decoded, which bounds
    memory at ``4 * sample_rate * max_seconds`` bytes.
    """
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(sample_rate),
        "-t",
        f"{max_seconds:.3f}",
        "-f",
        "f32le",
        "pipe:1",
    ]
    completed = _run(command, timeout=timeout)
    if completed.returncode != 0:
        raise MediaProcessingError(f"the audio could not be decoded ({_tail(completed.stderr)})")
    samples = np.frombuffer(completed.stdout, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(samples)):
        raise MediaProcessingError("the decoded audio contains invalid samples")
    return samples


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image as luminance, with what the detectors need to know about the file."""

    luminance: np.ndarray  # uint8, H x W
    width: int
    height: int
    format: str | None


def open_image(path: Path, *, max_pixels: int) -> Image.Image:
    """Open (without decoding) an image, refusing files Pillow cannot identify or too large ones."""
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaProcessingError("the file is not a readable image") from exc
    if image.width * image.height > max_pixels:
        image.close()
        raise MediaProcessingError(
            f"the image has {image.width}x{image.height} pixels, above the server limit of "
            f"{max_pixels} pixels"
        )
    return image


def load_luminance(path: Path, *, max_pixels: int) -> LoadedImage:
    """Decode an image to 8-bit luminance (the first frame of animated formats).

    Deeper images are scaled to 8 bits: the statistics here are about structure, and one
    pixel type keeps every detector's memory use at one byte per pixel.

    JPEGs are decoded straight to their Y plane (Pillow's ``draft``), which skips colour
    conversion and is the exact plane the encoder quantised.
    """
    with open_image(path, max_pixels=max_pixels) as image:
        image_format = image.format
        try:
            if image_format == "JPEG":
                image.draft("L", image.size)
            array = _luminance_array(image)
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaProcessingError(f"the image could not be decoded ({exc})") from exc
        return LoadedImage(array, image.width, image.height, image_format)


def _luminance_array(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float32)
        if image.mode.startswith("I;16"):
            array *= _EIGHT_BIT_MAX / _SIXTEEN_BIT_MAX
        else:
            peak = float(array.max()) if array.size else 0.0
            if peak > _EIGHT_BIT_MAX:
                array *= _EIGHT_BIT_MAX / peak
        return np.clip(np.rint(array), 0, _EIGHT_BIT_MAX).astype(np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


class _Pipe:
    """An ffmpeg process read from stdout, killed on timeout or when the reader stops early."""

    def __init__(self, command: list[str], *, timeout: float) -> None:
        # Closed in __exit__: the pipe object is itself the context manager.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except FileNotFoundError as exc:
            self._stderr.close()
            raise RuntimeError("ffmpeg is not installed") from exc
        self.timed_out = False
        self._timer = threading.Timer(timeout, self._kill_on_timeout)
        self._timer.daemon = True
        self._timer.start()

    def __enter__(self) -> _Pipe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def _kill_on_timeout(self) -> None:
        self.timed_out = True
        self._process.kill()

    def read_exactly(self, size: int) -> bytes | None:
        """Read one record of ``size`` bytes; ``None`` at end of stream (drops a partial tail)."""
        assert self._process.stdout is not None
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            chunk = self._process.stdout.read(remaining)
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def failed(self) -> bool:
        return self._process.wait() != 0

    def error_text(self) -> str:
        self._stderr.seek(0)
        return _tail(self._stderr.read())


def _run(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaProcessingError(f"decoding took longer than {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise RuntimeError(f"{command[0]} is not installed") from exc


def _tail(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text[-_STDERR_TAIL_CHARS:] if text else "no details from the decoder"


def _rate(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    numerator, denominator = value.split("/", 1)
    try:
        rate = float(numerator) / float(denominator)
    except (ValueError, ZeroDivisionError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
