"""Media built to make ffprobe read the server's own files, and images built to exhaust memory.

A playlist (HLS or concat) behind a media signature names other files; ffprobe used to follow it,
so a 107-byte ".mp3" made the platform analyse a file of the server's, and a path that did not
exist answered differently: a file-existence oracle. Each payload here names a real media file on
this machine and a missing one: both must get the same refusal, no model sees them, and the real
file is never opened (its access time would move).

A PNG of 16000 × 16000 pixels is 250 KB on disk; a GIF with a 1 × 1 screen can hold a frame of
65535 × 65535. Both are refused by the pixel limit of every frame.

Only ffprobe tells these files from real media, and it runs after the upload's answer, in the run's
dispatch task: each is answered 202 and then refused there, its run FAILED with the reason.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media_analysis.services.prepare import REFUSED_PREFIX
from tests.fixtures.media_files import make_audio, stored_files
from tests.fixtures.pipeline import upload_dispatched
from tests.security.conftest import assert_refused_before_any_model, refused_upload

URL = "/api/v1/media"
pytestmark = pytest.mark.django_db

ID3 = b"ID3\x03\x00\x00\x00\x00\x00\x00"
MP4 = struct.pack(">I", 16) + b"ftypisom" + b"\x00\x00\x02\x00"
WAV = b"RIFF" + struct.pack("<I", 200) + b"WAVE"
HEADERS = {"id3": (ID3, "song.mp3"), "mp4": (MP4, "clip.mp4"), "wav": (WAV, "voice.wav")}


def hls(path: str) -> bytes:
    return (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
        + f"file://{path}\n".encode()
        + b"#EXT-X-ENDLIST\n"
    )


def concat(path: str) -> bytes:
    return f"ffconcat version 1.0\nfile '{path}'\n".encode()


PLAYLISTS = {"hls": hls, "concat": concat}


@pytest.fixture
def server_file(tmp_path) -> Path:
    """A real sound on the server's disk, with an access time in the past to see it read."""
    path = make_audio(tmp_path / "server-secret.mp3")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    return path


def _upload(client, name: str, content: bytes):
    upload = SimpleUploadedFile(name, content, content_type="audio/mpeg")
    return client.post(URL, {"media": upload}, format="multipart")


@pytest.mark.parametrize("playlist", PLAYLISTS)
@pytest.mark.parametrize("header", HEADERS)
def test_a_playlist_behind_a_media_header_is_refused_the_same_for_any_path(
    header, playlist, server_file, uploader, fake_inference, settings, upload_temp_dir
):
    signature, name = HEADERS[header]
    build = PLAYLISTS[playlist]

    existing = refused_upload(
        uploader, _upload(uploader, name, signature + build(str(server_file))), fake_inference
    )
    missing = refused_upload(
        uploader,
        _upload(uploader, name, signature + build(f"{server_file.parent}/no-such-file.mp3")),
        fake_inference,
    )

    # Checked once both runs were dispatched: the probe is what could have followed the path.
    assert existing.latest_run.error_message == missing.latest_run.error_message
    assert str(server_file.parent) not in existing.latest_run.error_message
    assert os.stat(server_file).st_atime == 1_000_000_000, "the server's file was read"
    assert stored_files(settings.MEDIA_ROOT) == sorted([existing.file.name, missing.file.name])
    assert list(upload_temp_dir.iterdir()) == []


@pytest.mark.parametrize("playlist", PLAYLISTS)
def test_a_playlist_behind_an_id3_tag_is_named_for_what_it_is(
    playlist, server_file, uploader, fake_inference, settings, upload_temp_dir
):
    response = _upload(uploader, "song.mp3", ID3 + PLAYLISTS[playlist](str(server_file)))

    message = assert_refused_before_any_model(
        uploader, response, settings, upload_temp_dir, fake_inference
    )
    assert "playlist" in message and str(server_file.parent) not in message
    assert os.stat(server_file).st_atime == 1_000_000_000, "the server's file was read"


# --- pixel bombs ---------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of this size, compressed a row at a time (memory stays small)."""
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte, then one byte per pixel
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def gif_with_frames(screen: tuple[int, int], frames: list[tuple[int, int]]) -> bytes:
    """A GIF with this logical screen and one tiny-coded frame per (width, height)."""
    data = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    for width, height in frames:
        data += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
        data += b"\x02" + b"\x02\x4c\x01" + b"\x00"  # LZW code size, one sub-block, terminator
    return data + b"\x3b"


BOMBS = {
    "16000 x 16000 png": ("huge.png", lambda: grey_png(16000, 16000), "16000 × 16000"),
    "gif frame larger than its 1 x 1 screen": (
        "tiny.gif",
        lambda: gif_with_frames((1, 1), [(65535, 65535)]),
        "65535 × 65535",
    ),
    "gif whose second frame is the bomb": (
        "anim.gif",
        lambda: gif_with_frames((16, 16), [(16, 16), (10000, 10000)]),
        "10000 × 10000",
    ),
}


@pytest.mark.parametrize("case", BOMBS)
def test_images_over_the_pixel_limit_are_refused_before_any_model(
    case, uploader, fake_inference, settings, upload_temp_dir
):
    name, build, size = BOMBS[case]

    response = _upload(uploader, name, build())

    message = assert_refused_before_any_model(
        uploader, response, settings, upload_temp_dir, fake_inference
    )
    assert f"a frame of {size} pixels" in message
    assert "the limit is 50 megapixels per frame" in message


def test_the_pixel_limit_is_a_setting_and_images_below_it_pass(
    uploader, fake_inference, settings, upload_temp_dir
):
    settings.MAX_IMAGE_PIXELS = 2_000_000

    below = _upload(uploader, "below.png", grey_png(1000, 1000))
    above = _upload(uploader, "above.png", grey_png(2000, 1001))

    assert below.status_code == 202, below.content
    passed = upload_dispatched(below.json()["data"]["id"])
    assert passed.prepared_at is not None and passed.thumbnail
    assert passed.metadata["image"]["width"] == 1000
    assert not passed.latest_run.error_message.startswith(REFUSED_PREFIX)
    refused = refused_upload(uploader, above, fake_inference)
    message = refused.latest_run.error_message
    assert "a frame of 2000 × 1001 pixels" in message
    assert "the limit is 2 megapixels per frame" in message
