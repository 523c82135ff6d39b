"""An upload's path to storage: streamed into the parser, written to disk once, stored by rename.

Against a real uvicorn on the test database: the server's own /proc/<pid>/io shows how many bytes
it wrote while taking the upload, and the `.incoming` folder beside local storage shows the file
being written while the body is still arriving (Django's own handler would first spool the whole
body elsewhere).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from media_analysis.models import Media
from media_analysis.uploads import INCOMING_FOLDER, HashedUploadedFile
from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.pipeline import _purge_pipeline_queues, _test_database_url
from tests.fixtures.servers import uvicorn_serving

MIB = 1024 * 1024
UPLOAD_BYTES = 48 * MIB
BOUNDARY = "upload-path-boundary-3d91"
WAIT_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_pid(port: int) -> int:
    """The uvicorn process listening on `port`, found by its command line."""
    wanted = f"--port\0{port}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"uvicorn" in cmdline and wanted in cmdline:
            return int(entry.name)
    raise AssertionError(f"no uvicorn process on port {port}")


def _written_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/<pid>/io")


@pytest.fixture
def uploads_server(transactional_db, fake_inference, tmp_path) -> Iterator[dict]:
    """uvicorn on the test database, local storage in a folder of its own, no temp dir set."""
    yield from _uploads_server(fake_inference, tmp_path)


@pytest.fixture
def one_connection_server(transactional_db, fake_inference, tmp_path) -> Iterator[dict]:
    """The same with a pool of one database connection that a request waits 3 s for at most."""
    yield from _uploads_server(
        fake_inference, tmp_path, DB_POOL_MAX_SIZE="1", DB_POOL_TIMEOUT_SECONDS="3"
    )


def _uploads_server(fake_inference, tmp_path, **extra_env: str) -> Iterator[dict]:
    port = _free_port()
    media_root = tmp_path / "media"
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "REDIS_KEY_PREFIX": f"test-upload-path-{uuid.uuid4().hex}",
        "ML_SERVER_URL": fake_inference.url,
        "ML_SERVER_API_KEY": fake_inference.api_key,
        "MEDIA_ROOT": str(media_root),
        "STORAGE_BACKEND": "local",
        "MAX_UPLOAD_SIZE": str(2 * UPLOAD_BYTES),
        **extra_env,
    }
    env.pop("FILE_UPLOAD_TEMP_DIR", None)
    with uvicorn_serving(env=env, port=port) as url:
        yield {"url": url, "port": port, "media_root": media_root}
    _purge_pipeline_queues()


@pytest.fixture
def large_video(media_file) -> Path:
    """A real MP4 padded with zeros to UPLOAD_BYTES: accepted by the upload's checks."""
    path = media_file("large.mp4")
    with path.open("ab") as handle:
        handle.truncate(UPLOAD_BYTES)
    return path


def _token(url: str) -> str:
    """Sign up through the server itself, so the password is hashed as it checks it."""
    answer = requests.post(
        f"{url}/api/v1/auth/signup",
        json={
            "email": f"uploader-{uuid.uuid4().hex[:8]}@example.com",
            "password": DEFAULT_PASSWORD,
            "firstName": "Ada",
            "lastName": "L",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]["token"]


def _request_head(port: int, token: str, body_length: int) -> bytes:
    return (
        "POST /api/v1/media HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {body_length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def _multipart(name: str) -> tuple[bytes, bytes]:
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="media"; filename="{name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def _read_answer(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def _incoming_files(media_root: Path) -> list[Path]:
    folder = media_root / INCOMING_FOLDER
    return list(folder.iterdir()) if folder.exists() else []


def test_an_upload_through_uvicorn_is_written_once_hashed_and_stored(uploads_server, large_video):
    url, port, media_root = (
        uploads_server["url"],
        uploads_server["port"],
        uploads_server["media_root"],
    )
    token = _token(url)
    pid = _server_pid(port)
    head, tail = _multipart(large_video.name)
    size = large_video.stat().st_size

    written_before = _written_bytes(pid)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(_request_head(port, token, len(head) + size + len(tail)) + head)
        with large_video.open("rb") as handle:
            sock.sendfile(handle)
        sock.sendall(tail)
        answer = _read_answer(sock)
    written = _written_bytes(pid) - written_before

    assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
    # Django's own ASGI handler writes the body to a spool file and then the upload again: 2x.
    assert written < 1.25 * size, f"the server wrote {written / size:.2f}x the upload"
    media = Media.objects.get()
    assert media.size == size
    assert media.sha256 == hashlib.sha256(large_video.read_bytes()).hexdigest()
    stored = media_root / media.file.name
    assert stored.read_bytes() == large_video.read_bytes()
    assert _incoming_files(media_root) == []


def test_the_file_is_written_while_the_body_arrives_and_a_dropped_upload_leaves_nothing(
    uploads_server, large_video
):
    port, media_root = uploads_server["port"], uploads_server["media_root"]
    token = _token(uploads_server["url"])
    head, tail = _multipart(large_video.name)
    size = large_video.stat().st_size
    first_part = large_video.read_bytes()[: size // 2]

    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(_request_head(port, token, len(head) + size + len(tail)) + head + first_part)
        deadline = time.monotonic() + WAIT_SECONDS
        largest = 0
        while largest < size // 4 and time.monotonic() < deadline:
            sizes = [path.stat().st_size for path in _incoming_files(media_root)]
            largest = max(sizes, default=0)
            time.sleep(0.05)
        # Half the body sent, none of the rest: the upload's own file already holds most of it.
        assert largest >= size // 4, f"only {largest} bytes written while the body was arriving"

    deadline = time.monotonic() + WAIT_SECONDS
    while _incoming_files(media_root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _incoming_files(media_root) == []
    assert not Media.objects.exists()


def test_an_upload_still_arriving_holds_no_database_connection(one_connection_server, large_video):
    """Authentication used the pool's one connection; while the body arrives others need it."""
    url, port, media_root = (
        one_connection_server["url"],
        one_connection_server["port"],
        one_connection_server["media_root"],
    )
    token = _token(url)
    head, tail = _multipart(large_video.name)
    body = large_video.read_bytes()
    half = len(body) // 2

    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(_request_head(port, token, len(head) + len(body) + len(tail)) + head)
        sock.sendall(body[:half])
        deadline = time.monotonic() + WAIT_SECONDS
        while not _incoming_files(media_root) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _incoming_files(media_root), "the upload's body never reached the view"

        listing = requests.get(
            f"{url}/api/v1/media", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

        sock.sendall(body[half:] + tail)
        answer = _read_answer(sock)

    assert listing.status_code == 200, listing.text[:300]
    assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
    assert Media.objects.count() == 1


def test_with_local_storage_uploads_stream_beside_it_and_are_stored_by_rename(settings, db):
    settings.FILE_UPLOAD_TEMP_DIR = None
    upload = HashedUploadedFile("clip.mp4", "video/mp4", 0, None)
    upload.write(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4096)
    upload.flush()
    temporary = Path(upload.temporary_file_path())
    inode = temporary.stat().st_ino

    assert temporary.parent == Path(settings.MEDIA_ROOT) / INCOMING_FOLDER
    stored = default_storage.save("videos/clip.mp4", upload)
    upload.close()

    assert Path(default_storage.path(stored)).stat().st_ino == inode
    assert not temporary.exists()
