import pytest

from drishtiksha.errors import UnsupportedMediaType, ValidationFailed
from media_analysis.choices import MediaType
from media_analysis.formats import SIGNATURE_BYTES, extension_of
from media_analysis.services.ingest import display_filename, media_format_check

ACCEPTED = {
    "clip.mp4": MediaType.VIDEO,
    "clip.m4v": MediaType.VIDEO,
    "clip.mov": MediaType.VIDEO,
    "clip.webm": MediaType.VIDEO,
    "clip.mkv": MediaType.VIDEO,
    "clip.avi": MediaType.VIDEO,
    "still.jpg": MediaType.IMAGE,
    "still.jpeg": MediaType.IMAGE,
    "still.png": MediaType.IMAGE,
    "still.webp": MediaType.IMAGE,
    "still.gif": MediaType.IMAGE,
    "voice.mp3": MediaType.AUDIO,
    "voice.wav": MediaType.AUDIO,
    "voice.ogg": MediaType.AUDIO,
    "voice.m4a": MediaType.AUDIO,
    "voice.flac": MediaType.AUDIO,
}


def _head(path) -> bytes:
    return path.read_bytes()[:SIGNATURE_BYTES]


@pytest.mark.parametrize(("name", "media_type"), ACCEPTED.items())
def test_every_accepted_format_is_recognised_by_its_content(media_file, name, media_type):
    path = media_file(name)

    fmt = media_format_check(filename=name, head=_head(path), size=path.stat().st_size)

    assert fmt.media_type == media_type
    assert fmt.extension == extension_of(name)


def test_extension_that_disagrees_with_content_is_415(media_file):
    png = media_file("still.png")

    with pytest.raises(UnsupportedMediaType, match=r"does not match its \.mp4"):
        media_format_check(filename="still.mp4", head=_head(png), size=png.stat().st_size)


def test_unsupported_extension_is_415_and_lists_what_is_accepted():
    with pytest.raises(UnsupportedMediaType) as excinfo:
        media_format_check(filename="notes.pdf", head=b"%PDF-1.7", size=8)
    assert "mp4" in excinfo.value.message and "flac" in excinfo.value.message


def test_missing_extension_is_415():
    with pytest.raises(UnsupportedMediaType, match="no extension"):
        media_format_check(filename="clip", head=b"\x00\x00\x00\x18ftypisom", size=100)


def test_text_renamed_mp4_is_unreadable_400():
    with pytest.raises(ValidationFailed, match="could not be read as media"):
        media_format_check(filename="clip.mp4", head=b"hello, this is plain text\n", size=26)


def test_zero_bytes_is_400():
    with pytest.raises(ValidationFailed, match="empty"):
        media_format_check(filename="clip.mp4", head=b"", size=0)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
        ("bad\x00name\x1b.mp4", "badname.mp4"),
        ("résumé vidéo.mp4", "résumé vidéo.mp4"),
        ("", "upload"),
        ("...", "upload"),
    ],
)
def test_display_filename_strips_paths_and_control_characters(raw, shown):
    assert display_filename(raw) == shown


def test_display_filename_keeps_the_extension_when_shortening():
    shown = display_filename("x" * 400 + ".webm")
    assert len(shown) == 255
    assert shown.endswith(".webm")
