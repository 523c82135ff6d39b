"""Which files Drishtiksha accepts, and how a file's content says what it is.

The type of an upload is decided by its first bytes (its signature), never by the name or the
Content-Type the client sent; the extension must then agree with that content. One table below is
the single source of the rules: the upload service enforces it and the upload page is served it.
"""

from __future__ import annotations

from dataclasses import dataclass

from media_analysis.choices import MediaType

# How many leading bytes `sniff_container` needs to recognise every format below.
SIGNATURE_BYTES = 64

# A ZIP reader finds an archive from the end of a file, not its start: the end-of-central-directory
# record (22 bytes, then a comment of up to 64 KiB) closes the file. So a file ending in one is also
# an archive (a JAR, an APK, an Office document) whatever its first bytes say: a polyglot.
_ZIP_END_RECORD = b"PK\x05\x06"
_ZIP_END_RECORD_BYTES = 22
TRAILER_BYTES = _ZIP_END_RECORD_BYTES + 0xFFFF


@dataclass(frozen=True)
class Format:
    extension: str
    media_type: MediaType
    mimetype: str
    # Containers whose signature is acceptable for this extension (see `sniff_container`).
    containers: frozenset[str]


_FORMATS = [
    # ISO base media (MP4 family): the `ftyp` brand distinguishes QuickTime and audio-only M4A,
    # but many encoders write generic brands, so the family is accepted for each of these and the
    # streams found by ffprobe have the last word (an .m4a or .ogg with a video track is refused).
    Format("mp4", MediaType.VIDEO, "video/mp4", frozenset({"isobmff", "isobmff-audio"})),
    Format("m4v", MediaType.VIDEO, "video/x-m4v", frozenset({"isobmff"})),
    Format("mov", MediaType.VIDEO, "video/quicktime", frozenset({"quicktime", "isobmff"})),
    Format("webm", MediaType.VIDEO, "video/webm", frozenset({"webm"})),
    Format("mkv", MediaType.VIDEO, "video/x-matroska", frozenset({"matroska", "webm"})),
    Format("avi", MediaType.VIDEO, "video/x-msvideo", frozenset({"avi"})),
    Format("jpg", MediaType.IMAGE, "image/jpeg", frozenset({"jpeg"})),
    Format("jpeg", MediaType.IMAGE, "image/jpeg", frozenset({"jpeg"})),
    Format("png", MediaType.IMAGE, "image/png", frozenset({"png"})),
    Format("webp", MediaType.IMAGE, "image/webp", frozenset({"webp"})),
    Format("gif", MediaType.IMAGE, "image/gif", frozenset({"gif"})),
    Format("mp3", MediaType.AUDIO, "audio/mpeg", frozenset({"mp3"})),
    Format("wav", MediaType.AUDIO, "audio/wav", frozenset({"wav"})),
    Format("ogg", MediaType.AUDIO, "audio/ogg", frozenset({"ogg"})),
    Format("m4a", MediaType.AUDIO, "audio/mp4", frozenset({"isobmff-audio", "isobmff"})),
    Format("flac", MediaType.AUDIO, "audio/flac", frozenset({"flac"})),
]

FORMATS_BY_EXTENSION: dict[str, Format] = {fmt.extension: fmt for fmt in _FORMATS}

# The ffmpeg demuxers that may read each container, by the names ffmpeg gives them (the MP4
# family's demuxer is "mov,mp4,m4a,3gp,3g2,mj2", matched by "mov"). ffprobe and ffmpeg are held
# to these: a file whose content ffmpeg reads as anything else (an HLS or concat playlist behind
# an ID3 tag, an image2 sequence) is refused before it is opened, since those demuxers read other
# files named inside the upload, the server's own among them.
DEMUXERS: dict[str, tuple[str, ...]] = {
    "jpeg": ("jpeg_pipe",),
    "png": ("png_pipe", "apng"),
    "gif": ("gif",),
    "webp": ("webp_pipe",),
    "wav": ("wav",),
    "avi": ("avi",),
    "isobmff": ("mov",),
    "isobmff-audio": ("mov",),
    "quicktime": ("mov",),
    "webm": ("matroska",),
    "matroska": ("matroska",),
    "ogg": ("ogg",),
    "flac": ("flac",),
    "mp3": ("mp3",),
}

# Storage folder per media type: stored keys look like `videos/<uuid>.mp4`.
STORAGE_FOLDERS = {
    MediaType.VIDEO: "videos",
    MediaType.IMAGE: "images",
    MediaType.AUDIO: "audio",
}

# Storage folder of the poster thumbnails made for videos and images.
THUMBNAIL_FOLDER = "thumbnails"

_ISO_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_QUICKTIME_BRAND = b"qt  "


def extension_of(filename: str) -> str:
    """The lower-case extension without the dot, or "" when there is none."""
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." not in name.strip("."):
        return ""
    return name.rsplit(".", 1)[-1].lower()


def sniff_container(head: bytes) -> str | None:
    """Name the container that `head` (the file's first bytes) starts with, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == _QUICKTIME_BRAND:
            return "quicktime"
        return "isobmff-audio" if brand in _ISO_AUDIO_BRANDS else "isobmff"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        # Old QuickTime files may start straight with an atom other than `ftyp`.
        return "quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:SIGNATURE_BYTES] else "matroska"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"ID3"):
        return "mp3"
    # A bare MPEG audio frame: 11 sync bits, then a layer other than "reserved".
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06):
        return "mp3"
    return None


def ends_with_zip_archive(tail: bytes) -> bool:
    """Whether `tail` (the file's last `TRAILER_BYTES`) ends with a ZIP end-of-central-directory.

    The record only counts when its comment length reaches exactly the end of the file, as a ZIP
    writer leaves it: the signature alone turns up by chance in compressed media now and then.
    """
    start = len(tail)
    while (start := tail.rfind(_ZIP_END_RECORD, 0, start)) != -1:
        record_end = start + _ZIP_END_RECORD_BYTES
        if record_end <= len(tail):
            comment_length = int.from_bytes(tail[record_end - 2 : record_end], "little")
            if record_end + comment_length == len(tail):
                return True
    return False


def accepted_formats_summary() -> dict[str, list[str]]:
    """Extensions grouped by media type, for error messages and the upload page."""
    summary: dict[str, list[str]] = {}
    for fmt in _FORMATS:
        summary.setdefault(fmt.media_type.value, []).append(fmt.extension)
    return summary
