"""Media typing, probing and decoding.

All audio and video decoding goes through ffmpeg subprocesses so every container and codec
ffmpeg knows works the same way, and so decoding runs outside the Python interpreter (it does
not hold the GIL). Frames are streamed from a pipe one at a time: a video is never held in
memory as a whole.

ffmpeg is never left to guess what an upload is. Left alone it probes the content, and a file
that starts like an MP3 (an ID3 tag) and goes on as an HLS playlist or a concat list is read as
that playlist, which opens whatever files it names on the server. So every ffprobe and ffmpeg
run forces the demuxer that the file's signature implies, allows the ``file`` protocol only,
and names the input as a ``file:`` URL; a signature this module does not know, or a probed
format outside the accepted set, is refused before anything is decoded.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from mlserver.errors import MediaProcessingError, UnsupportedContainerError

# ffmpeg's last lines of stderr are enough to say why decoding failed.
_STDERR_TAIL_CHARS = 300
# ffmpeg prefixes messages with "[demuxer @ 0x55d4c0a1b2c0] ": the name says where, the
# address only tells a client where the server's heap is.
_LOG_CONTEXT_PATTERN = re.compile(r"\[([^\]@]+?) @ 0x[0-9a-fA-F]+\] ")
_EIGHT_BIT_MAX = 255.0
_SIXTEEN_BIT_MAX = 65535.0
# Enough of the file to see every signature below (an MPEG-TS second sync byte is at 188).
_SIGNATURE_BYTES = 192
_ID3_HEADER_BYTES = 10
_ID3_FOOTER_FLAG = 0x10
_MPEG_TS_PACKET_BYTES = 188
_MPEG_TS_SYNC = 0x47
# GIF block structure (GIF89a specification): header and logical screen descriptor, then
# blocks introduced by one byte; colour tables hold 3 << (size bits + 1) bytes.
_GIF_HEADER_BYTES = 13
_GIF_DESCRIPTOR_BYTES = 9
_GIF_EXTENSION = b"!"
_GIF_IMAGE = b","
_GIF_TRAILER = b";"
_GIF_COLOUR_TABLE_FLAG = 0x80
_GIF_COLOUR_TABLE_SIZE_BITS = 0x07
_UNSUPPORTED_CONTAINER = (
    "the file's content is not an audio, video or image format this server reads"
)


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


def extension_of(filename: str) -> str:
    """The filename's lower-case extension without the dot ("" when it has none)."""
    return Path(filename).suffix.lower().lstrip(".")


def extensions_for(media_types: Iterable[MediaType]) -> set[str]:
    """Every extension this server reads as one of ``media_types``."""
    wanted = set(media_types)
    return {extension for extension, kind in _EXTENSIONS.items() if kind in wanted}


def media_type_for_filename(filename: str) -> MediaType | None:
    """Decide the media type from the filename's extension, as the contract requires.

    The contract makes the extension authoritative (a client must send a correct one), so
    the content is not sniffed here; a file whose content disagrees fails later with a
    media-processing error.
    """
    return _EXTENSIONS.get(extension_of(filename))


# (offset, signature, ffmpeg demuxer); the first match wins. With the RIFF, IFF, MPEG-TS and
# MPEG audio checks below, these are the accepted formats: each demuxer reads only the file it
# is given (none follows playlists, segment lists or external references).
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"\x1a\x45\xdf\xa3", "matroska"),
    (0, b"FLV\x01", "flv"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf"),
    (0, b"\x00\x00\x01\xba", "mpeg"),
    (0, b"\x00\x00\x01\xb3", "mpegvideo"),
    (4, b"ftyp", "mov"),
    (4, b"moov", "mov"),
    (4, b"mdat", "mov"),
    (4, b"wide", "mov"),
    (4, b"free", "mov"),
    (0, b"\xff\xd8\xff", "jpeg_pipe"),
    (0, b"\x89PNG\r\n\x1a\n", "png_pipe"),
    (0, b"GIF87a", "gif"),
    (0, b"GIF89a", "gif"),
)
# RIFF and IFF files say what they hold at offset 8.
_RIFF_TYPES = {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp_pipe"}
_IFF_TYPES = {b"AIFF": "aiff", b"AIFC": "aiff"}


def container_demuxer(path: Path) -> str:
    """The ffmpeg demuxer the file's first bytes call for.

    Raises ``UnsupportedContainerError`` when they match no accepted format: the extension is
    not trusted here, because the demuxer decides which other files ffmpeg may open.
    """
    with path.open("rb") as handle:
        head = handle.read(_SIGNATURE_BYTES)
        if head.startswith(b"ID3") and len(head) >= _ID3_HEADER_BYTES:
            # ffmpeg skips a leading ID3v2 tag before every demuxer; what follows it decides,
            # and MP3 is what such a file almost always is.
            handle.seek(_id3_tag_length(head))
            return _demuxer_for(handle.read(_SIGNATURE_BYTES)) or "mp3"
    demuxer = _demuxer_for(head)
    if demuxer is None:
        raise UnsupportedContainerError(_UNSUPPORTED_CONTAINER)
    return demuxer


def _demuxer_for(head: bytes) -> str | None:
    for offset, signature, demuxer in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return demuxer
    if head[:4] == b"RIFF":
        return _RIFF_TYPES.get(head[8:12])
    if head[:4] == b"FORM":
        return _IFF_TYPES.get(head[8:12])
    if len(head) > _MPEG_TS_PACKET_BYTES and (
        head[0] == head[_MPEG_TS_PACKET_BYTES] == _MPEG_TS_SYNC
    ):
        return "mpegts"
    if len(head) >= 2 and head[0] == 0xFF:
        # 11 sync bits; the two layer bits are 00 for AAC in ADTS, non-zero for MPEG audio.
        if head[1] & 0xF6 == 0xF0:
            return "aac"
        if head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
            return "mp3"
    return None


def _id3_tag_length(header: bytes) -> int:
    """Bytes taken by an ID3v2 tag: header, synchsafe size (7 bits a byte), optional footer."""
    size = 0
    for byte in header[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = _ID3_HEADER_BYTES if header[5] & _ID3_FOOTER_FLAG else 0
    return _ID3_HEADER_BYTES + size + footer


def _input_options(path: Path, demuxer: str | None = None) -> list[str]:
    """ffmpeg/ffprobe input options that open ``path`` with ``demuxer`` and nothing else.

    ``demuxer`` defaults to the one the file's signature implies.
    """
    demuxer = demuxer or container_demuxer(path)
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", _file_url(path)]


def _file_url(path: Path) -> str:
    # A ``file:`` URL: a path containing a colon is never taken for another protocol.
    return f"file:{path}"


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
    Raises ``UnsupportedContainerError`` for a file that is not an accepted container.
    """
    demuxer = container_demuxer(path)
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
    command.extend(_input_options(path, demuxer))
    completed = _run(command, timeout=timeout)
    if completed.returncode != 0:
        reason = _tail(completed.stderr, path)
        raise MediaProcessingError(f"the file could not be read ({reason})")
    try:
        info = json.loads(completed.stdout)
    except json.JSONDecodeError as exc:
        raise MediaProcessingError("the file could not be read (unparseable probe output)") from exc
    result = _probe_result(info)
    # With the demuxer forced this always holds; ffprobe's answer is what was actually read,
    # so the accepted set is checked on it rather than assumed.
    if demuxer not in (result.format_name or "").split(","):
        raise UnsupportedContainerError(_UNSUPPORTED_CONTAINER)
    return result


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
        *_input_options(path),
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
    with _Pipe(command, path=path, timeout=timeout) as pipe:
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
        *_input_options(path),
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
        reason = _tail(completed.stderr, path)
        raise MediaProcessingError(f"the audio could not be decoded ({reason})")
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
    """Open (without decoding) an image, refusing files Pillow cannot identify or too large ones.

    Every frame counts, not only the declared size: a GIF frame may be larger than the
    logical screen it is drawn on (Pillow then grows the image to hold it), and each page of a
    TIFF has a size of its own. Pillow's own decompression-bomb guard, which applies above
    twice ``Image.MAX_IMAGE_PIXELS`` whatever ``max_pixels`` says, is answered the same way.
    """
    try:
        image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(max_pixels, str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaProcessingError("the file is not a readable image") from exc
    try:
        width, height = _largest_frame(image, path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        image.close()
        raise _too_large(max_pixels, str(exc)) from exc
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        image.close()
        raise MediaProcessingError("the file is not a readable image") from exc
    if width * height > max_pixels:
        image.close()
        raise _too_large(max_pixels, f"{width}x{height} pixels")
    return image


def _too_large(max_pixels: int, size: str) -> MediaProcessingError:
    return MediaProcessingError(
        f"the image is above the server limit of {max_pixels} pixels ({size})"
    )


def _largest_frame(image: Image.Image, path: Path) -> tuple[int, int]:
    """The largest size any frame of ``image`` takes, read from headers without decoding.

    APNG and animated WebP frames must lie inside the canvas (Pillow and libwebp refuse
    others), so only GIF and TIFF can hide a larger frame behind a small first one. ``image``
    is left on its first frame.
    """
    if image.format == "GIF":
        # Pillow has already grown ``image.size`` for the first frame.
        canvas = _gif_canvas(path)
        return max(canvas[0], image.width), max(canvas[1], image.height)
    if image.format == "TIFF" and getattr(image, "n_frames", 1) > 1:
        largest = image.size
        for page in range(image.n_frames):
            image.seek(page)
            if image.width * image.height > largest[0] * largest[1]:
                largest = image.size
        image.seek(0)
        return largest
    return image.size


def _gif_canvas(path: Path) -> tuple[int, int]:
    """The size a GIF grows to: its logical screen, widened by every frame drawn outside it.

    Walks the blocks of the file (image descriptors, extensions, data sub-blocks) without
    decoding any pixel data.
    """
    with path.open("rb") as handle:
        header = handle.read(_GIF_HEADER_BYTES)
        if len(header) < _GIF_HEADER_BYTES:
            raise ValueError("truncated GIF header")
        width = int.from_bytes(header[6:8], "little")
        height = int.from_bytes(header[8:10], "little")
        _skip_colour_table(handle, header[10])
        while (introducer := handle.read(1)) not in (b"", _GIF_TRAILER):
            if introducer == _GIF_EXTENSION:
                handle.read(1)  # the extension's label
            elif introducer == _GIF_IMAGE:
                descriptor = handle.read(_GIF_DESCRIPTOR_BYTES)
                if len(descriptor) < _GIF_DESCRIPTOR_BYTES:
                    break
                left, top, frame_width, frame_height = (
                    int.from_bytes(descriptor[i : i + 2], "little") for i in range(0, 8, 2)
                )
                width = max(width, left + frame_width)
                height = max(height, top + frame_height)
                _skip_colour_table(handle, descriptor[8])
                handle.read(1)  # LZW minimum code size
            else:
                continue  # a stray byte, which Pillow skips too
            _skip_sub_blocks(handle)
    return width, height


def _skip_colour_table(handle: IO[bytes], flags: int) -> None:
    if flags & _GIF_COLOUR_TABLE_FLAG:
        handle.seek(3 << ((flags & _GIF_COLOUR_TABLE_SIZE_BITS) + 1), os.SEEK_CUR)


def _skip_sub_blocks(handle: IO[bytes]) -> None:
    while (length := handle.read(1)) and length[0]:
        handle.seek(length[0], os.SEEK_CUR)


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

    def __init__(self, command: list[str], *, path: Path, timeout: float) -> None:
        self._path = path
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
        return _tail(self._stderr.read(), self._path)


def _run(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaProcessingError(f"decoding took longer than {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise RuntimeError(f"{command[0]} is not installed") from exc


def _tail(stderr: bytes, path: Path) -> str:
    """The end of ffmpeg's stderr, without the upload's path or the server's memory addresses."""
    text = stderr.decode("utf-8", "replace").replace(_file_url(path), "the file")
    text = _LOG_CONTEXT_PATTERN.sub(r"\1: ", text).strip()
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
