"""Hostile uploads: files that try to make the server read its own files, and pixel bombs.

A file that starts like an MP3, MP4 or WAV and goes on as an HLS playlist or a concat list
would, if ffmpeg were left to guess the format, be read as that playlist: the analysis would be
of a file on the server, and an error for a missing target would tell which paths exist. The
answer must be a refusal that is the same whether the named file exists or not.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from mlserver.app import create_app
from mlserver.config import Settings
from mlserver.media import probe

ID3_HEADER = b"ID3\x03\x00\x00\x00\x00\x00\x00"
MP4_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41"
WAV_HEADER = b"RIFF\x24\x08\x00\x00WAVE"
HEADERS = {"mp3": ID3_HEADER, "mp4": MP4_HEADER, "wav": WAV_HEADER}
# The models that hand audio and video files to ffprobe/ffmpeg.
MODELS = ("AUDIO-SPECTRUM-V1", "PROVENANCE-METADATA-V1")
CORRELATION_ID = "hostile-1"
# Same-length names, so that nothing in the answer can differ but the target's existence.
REAL_TARGET = "target-real.mp3"
MISSING_TARGET = "target-gone.mp3"
BOMB_SIDE = 16_000
GIF_FRAME_SIDE = 65_535


def hls_playlist(target: str) -> bytes:
    return (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
        + f"file://{target}\n".encode()
        + b"#EXT-X-ENDLIST\n"
    )


def concat_list(target: str) -> bytes:
    return f"ffconcat version 1.0\nfile '{target}'\n".encode()


@pytest.fixture
def real_mp3(voice_wav: Path, tmp_path: Path, media_tools: SimpleNamespace) -> Path:
    """A readable audio file on the server, the target the playlists point at."""
    target = tmp_path / "server-files" / REAL_TARGET
    target.parent.mkdir()
    media_tools.run_ffmpeg("-i", str(voice_wav), "-c:a", "libmp3lame", str(target))
    return target


def post(client: TestClient, auth: dict[str, str], name: str, content: bytes, model: str):
    return client.post(
        "/analyze",
        headers={**auth, "X-Correlation-ID": CORRELATION_ID},
        files={"media": (name, content)},
        data={"model": model},
    )


def assert_same_refusal(real, missing, *targets: str) -> None:
    assert real.status_code in (415, 422), real.text
    assert (real.status_code, real.json()) == (missing.status_code, missing.json())
    for target in targets:
        assert target not in real.text and target not in missing.text


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("extension", sorted(HEADERS))
def test_an_hls_playlist_behind_a_media_header_is_refused_alike_for_any_target(
    ml_client: TestClient, auth, real_mp3: Path, extension: str, model: str
) -> None:
    missing = real_mp3.with_name(MISSING_TARGET)
    header = HEADERS[extension]
    name = f"upload.{extension}"
    real_answer = post(ml_client, auth, name, header + hls_playlist(str(real_mp3)), model)
    missing_answer = post(ml_client, auth, name, header + hls_playlist(str(missing)), model)
    assert_same_refusal(real_answer, missing_answer, str(real_mp3.parent))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("extension", sorted(HEADERS))
@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "beside-the-upload"])
def test_a_concat_list_behind_a_media_header_is_refused_alike_for_any_target(
    ml_client: TestClient,
    auth,
    server_settings: Settings,
    real_mp3: Path,
    extension: str,
    model: str,
    absolute: bool,
) -> None:
    # ffmpeg's concat demuxer refuses absolute paths by default but follows a plain name,
    # relative to the list: a file beside the upload, where other requests' uploads live.
    server_settings.temp_dir.joinpath(REAL_TARGET).write_bytes(real_mp3.read_bytes())
    real = str(real_mp3) if absolute else REAL_TARGET
    missing = str(real_mp3.with_name(MISSING_TARGET)) if absolute else MISSING_TARGET
    header = HEADERS[extension]
    name = f"upload.{extension}"
    real_answer = post(ml_client, auth, name, header + concat_list(real), model)
    missing_answer = post(ml_client, auth, name, header + concat_list(missing), model)
    assert_same_refusal(real_answer, missing_answer, real, missing)


@pytest.mark.parametrize("playlist", [hls_playlist, concat_list], ids=["hls", "concat"])
def test_a_bare_playlist_is_an_unsupported_container(
    ml_client: TestClient, auth, real_mp3: Path, playlist: Callable[[str], bytes]
) -> None:
    answer = post(ml_client, auth, "upload.mp3", playlist(str(real_mp3)), "AUDIO-SPECTRUM-V1")
    assert answer.status_code == 415, answer.text
    assert answer.json()["detail"]["error"] == "Unsupported Media Type"


# Every container the server takes by extension, made by ffmpeg, still probes as itself.
CONTAINERS = {
    "mp3": ["-c:a", "libmp3lame"],
    "wav": [],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus"],
    "flac": [],
    "m4a": ["-c:a", "aac"],
    "aac": ["-c:a", "aac"],
    "aiff": [],
    "wma": ["-c:a", "wmav2"],
    "mp4": ["-c:v", "libx264"],
    "mov": ["-c:v", "libx264"],
    "mkv": ["-c:v", "libx264"],
    "webm": ["-c:v", "libvpx", "-c:a", "libvorbis"],
    "avi": ["-c:v", "mpeg4"],
    "mpg": ["-c:v", "mpeg2video", "-c:a", "mp2"],
    "ts": ["-c:v", "mpeg2video", "-c:a", "mp2"],
    "flv": ["-c:v", "flv", "-ar", "44100"],
    "wmv": ["-c:v", "wmv2", "-c:a", "wmav2"],
    "3gp": ["-c:v", "h263", "-s", "176x144", "-c:a", "aac", "-ar", "8000", "-ac", "1"],
}
AUDIO_ONLY = {"mp3", "wav", "ogg", "opus", "flac", "m4a", "aac", "aiff", "wma"}


@pytest.mark.parametrize("extension", sorted(CONTAINERS))
def test_every_accepted_container_still_probes(
    tmp_path: Path,
    voice_wav: Path,
    smooth_video: Path,
    media_tools: SimpleNamespace,
    extension: str,
) -> None:
    output = tmp_path / f"sample.{extension}"
    sources = ["-i", str(voice_wav)]
    if extension not in AUDIO_ONLY:
        sources = ["-i", str(smooth_video), *sources, "-map", "0:v", "-map", "1:a"]
    media_tools.run_ffmpeg(*sources, "-t", "1", *CONTAINERS[extension], str(output))
    result = probe(output, timeout=60)
    assert result.audio is not None and result.audio.sample_rate > 0
    assert (result.video is not None) == (extension not in AUDIO_ONLY)


def png_bomb(path: Path, side: int) -> Path:
    """A PNG declaring ``side`` x ``side`` grey pixels, all zero: a few kilobytes on disk."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte, then the pixels
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def gif_bomb(path: Path, frame_side: int, *, first_frame_small: bool) -> Path:
    """A GIF with a 1x1 logical screen holding a ``frame_side`` square frame.

    With ``first_frame_small`` the huge frame comes second, behind an honest 1x1 one.
    """
    screen = b"GIF89a" + struct.pack("<HH", 1, 1) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    # One LZW sub-block: clear code, one pixel, end code (code size 2).
    pixels = b"\x02\x02\x4c\x01\x00"

    def frame(side: int) -> bytes:
        return b"," + struct.pack("<HHHH", 0, 0, side, side) + b"\x00" + pixels

    frames = [frame(frame_side)]
    if first_frame_small:
        frames.insert(0, frame(1))
    path.write_bytes(screen + b"".join(frames) + b";")
    return path


IMAGE_MODELS = ("FREQUENCY-SPECTRUM-V1", "PROVENANCE-METADATA-V1")


@pytest.mark.parametrize("model", IMAGE_MODELS)
@pytest.mark.parametrize(
    "make_bomb",
    [
        lambda path: png_bomb(path / "bomb.png", BOMB_SIDE),
        lambda path: gif_bomb(path / "bomb.gif", GIF_FRAME_SIDE, first_frame_small=False),
        lambda path: gif_bomb(path / "later.gif", GIF_FRAME_SIDE, first_frame_small=True),
    ],
    ids=["png-16000-square", "gif-huge-first-frame", "gif-huge-second-frame"],
)
def test_a_pixel_bomb_is_a_422_naming_the_limit(
    ml_client: TestClient, auth, tmp_path: Path, make_bomb: Callable[[Path], Path], model: str
) -> None:
    bomb = make_bomb(tmp_path)
    answer = post(ml_client, auth, bomb.name, bomb.read_bytes(), model)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["error"] == "Media Processing Error"
    assert "above the server limit of 50000000 pixels" in detail["message"]


def test_an_image_over_the_configured_limit_is_refused(
    server_settings: Settings, auth, tmp_path: Path
) -> None:
    small_limit = replace(server_settings, max_image_pixels=99)
    with TestClient(create_app(small_limit)) as client:
        image = png_bomb(tmp_path / "ten.png", 10)
        answer = post(client, auth, image.name, image.read_bytes(), "FREQUENCY-SPECTRUM-V1")
    assert answer.status_code == 422, answer.text
    message = answer.json()["detail"]["message"]
    assert message.endswith("the image is above the server limit of 99 pixels (10x10 pixels)")
