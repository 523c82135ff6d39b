"""CloudinaryStorage against a local stand-in for Cloudinary's HTTP APIs.

The stand-in is a real HTTP server, so these tests exercise the SDK's actual requests: the
endpoints, the multipart fields, the chunk headers, the signatures and the basic auth. It keeps
assets per (resource type, delivery type, public id) like Cloudinary does, so a request with the
wrong resource type misses the asset exactly as it would in production.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import cloudinary.exceptions
import cloudinary.utils
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File

from media_analysis.storage_backends import MIN_CHUNK_SIZE, CloudinaryStorage

CLOUD = "drishtiksha-test"
API_KEY = "614335564976464"
API_SECRET = "stand-in-secret"
CLOUDINARY_URL = f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}"
UNSIGNED_FIELDS = {"signature", "api_key"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    # Form fields of a POST, query parameters of a GET; the uploaded bytes are kept apart.
    fields: dict[str, str]
    file_name: str | None = None
    file_data: bytes | None = None


@dataclass
class StoredAsset:
    format: str
    data: bytes


@dataclass
class FakeCloudinary:
    """Cloudinary's Upload API (upload, chunked upload, destroy), the Admin API's resource
    lookup and the signed download endpoint, answering like the real service."""

    prefix: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    assets: dict[tuple[str, str, str], StoredAsset] = field(default_factory=dict)
    partial_uploads: dict[str, bytearray] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_to(self, suffix: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.endswith(suffix)]

    def handle(self, request: RecordedRequest) -> tuple[int, dict | bytes]:
        with self.lock:
            self.requests.append(request)
            match = re.fullmatch(rf"/v1_1/{CLOUD}/(\w+)/(\w+)", request.path)
            if request.method == "GET" and request.path.startswith(f"/v1_1/{CLOUD}/resources/"):
                return self._resource(request)
            if match is None:
                return 404, {"error": {"message": f"No route for {request.path}"}}
            resource_type, action = match.groups()
            if not self._signed(request.fields):
                return 401, {"error": {"message": "Invalid Signature"}}
            if request.method == "POST" and action == "upload":
                return self._upload(resource_type, request)
            if request.method == "POST" and action == "destroy":
                return self._destroy(resource_type, request.fields)
            if request.method == "GET" and action == "download":
                return self._download(resource_type, request.fields)
            return 404, {"error": {"message": f"Unknown action {action}"}}

    @staticmethod
    def _signed(fields: dict[str, str]) -> bool:
        to_sign = {key: value for key, value in fields.items() if key not in UNSIGNED_FIELDS}
        expected = cloudinary.utils.api_sign_request(to_sign, API_SECRET)
        return fields.get("api_key") == API_KEY and fields.get("signature") == expected

    def _upload(self, resource_type: str, request: RecordedRequest) -> tuple[int, dict]:
        fields = request.fields
        data = request.file_data or b""
        content_range = request.headers.get("content-range")
        if content_range:
            start, end, total = map(
                int, re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range).groups()
            )
            received = self.partial_uploads.setdefault(
                request.headers["x-unique-upload-id"], bytearray()
            )
            if start != len(received) or end - start + 1 != len(data):
                return 400, {"error": {"message": "Chunks out of order"}}
            received.extend(data)
            if end + 1 < total:
                return 200, {"public_id": fields["public_id"], "done": False}
            data = bytes(received)
        key = (resource_type, fields.get("type", "upload"), fields["public_id"])
        description = {
            "public_id": fields["public_id"],
            "resource_type": resource_type,
            "type": key[1],
            "format": fields["format"],
            "bytes": len(data),
        }
        if key in self.assets and fields.get("overwrite") != "1":
            return 200, {**description, "bytes": len(self.assets[key].data), "existing": True}
        self.assets[key] = StoredAsset(format=fields["format"], data=data)
        return 200, description

    def _destroy(self, resource_type: str, fields: dict[str, str]) -> tuple[int, dict]:
        key = (resource_type, fields.get("type", "upload"), fields["public_id"])
        return 200, {"result": "ok" if self.assets.pop(key, None) else "not found"}

    def _download(self, resource_type: str, fields: dict[str, str]) -> tuple[int, dict | bytes]:
        if int(fields.get("expires_at", "0")) < time.time():
            return 401, {"error": {"message": "URL expired"}}
        asset = self.assets.get((resource_type, fields.get("type", "upload"), fields["public_id"]))
        if asset is None or asset.format != fields.get("format"):
            return 404, {"error": {"message": "Resource not found"}}
        return 200, asset.data

    def _resource(self, request: RecordedRequest) -> tuple[int, dict]:
        credentials = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {credentials}":
            return 401, {"error": {"message": "Invalid credentials"}}
        resource_type, delivery_type, public_id = request.path.removeprefix(
            f"/v1_1/{CLOUD}/resources/"
        ).split("/", 2)
        asset = self.assets.get((resource_type, delivery_type, public_id))
        if asset is None:
            return 404, {"error": {"message": f"Resource not found - {public_id}"}}
        return 200, {"public_id": public_id, "format": asset.format, "bytes": len(asset.data)}


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], str | None, bytes | None]:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, str] = {}
    file_name = file_data = None
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        value = value.removesuffix(b"\r\n")
        name = re.search(rb'name="([^"]*)"', head).group(1).decode()
        if name == "file":
            filename = re.search(rb'filename="([^"]*)"', head)
            file_name = filename.group(1).decode() if filename else None
            file_data = value
        else:
            fields[name] = value.decode()
    return fields, file_name, file_data


def _handler_for(fake: FakeCloudinary) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fields, file_name, file_data = _parse_multipart(self.headers["Content-Type"], body)
            self._answer(
                RecordedRequest(
                    "POST", unquote(self.path), self._headers(), fields, file_name, file_data
                )
            )

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            fields = dict(parse_qsl(url.query))
            self._answer(RecordedRequest("GET", unquote(url.path), self._headers(), fields))

        def _headers(self) -> dict[str, str]:
            return {name.lower(): value for name, value in self.headers.items()}

        def _answer(self, request: RecordedRequest) -> None:
            status, payload = fake.handle(request)
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            content_type = (
                "application/octet-stream" if isinstance(payload, bytes) else "application/json"
            )
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output clean."""

    return Handler


@pytest.fixture
def fake_cloudinary() -> Iterator[FakeCloudinary]:
    fake = FakeCloudinary()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.prefix = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def storage(settings, fake_cloudinary: FakeCloudinary) -> CloudinaryStorage:
    settings.CLOUDINARY_URL = CLOUDINARY_URL
    settings.CLOUDINARY_CHUNK_SIZE = MIN_CHUNK_SIZE
    return CloudinaryStorage(upload_prefix=fake_cloudinary.prefix)


class ReadRecorder(io.BytesIO):
    """An in-memory file that remembers how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_sizes: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.read_sizes.append(size)
        return super().read(size)


def _payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def _key(folder: str, extension: str) -> str:
    return f"{folder}/{uuid.uuid4()}.{extension}"


def _public_id(key: str) -> str:
    return key.rsplit(".", 1)[0]


def test_a_video_larger_than_a_chunk_goes_up_in_chunks_read_one_at_a_time(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    size = 2 * MIN_CHUNK_SIZE + 1234
    data = _payload(size)
    source = ReadRecorder(data)
    key = _key("videos", "mp4")

    assert storage.save(key, File(source, name="clip.mp4")) == key

    uploads = fake_cloudinary.requests_to("/upload")
    assert [request.path for request in uploads] == [f"/v1_1/{CLOUD}/video/upload"] * 3
    assert [request.headers["content-range"] for request in uploads] == [
        f"bytes 0-{MIN_CHUNK_SIZE - 1}/{size}",
        f"bytes {MIN_CHUNK_SIZE}-{2 * MIN_CHUNK_SIZE - 1}/{size}",
        f"bytes {2 * MIN_CHUNK_SIZE}-{size - 1}/{size}",
    ]
    assert len({request.headers["x-unique-upload-id"] for request in uploads}) == 1
    for request in uploads:
        assert request.fields["public_id"] == _public_id(key)
        assert request.fields["format"] == "mp4"
        assert request.fields["type"] == "authenticated"
        assert request.fields["overwrite"] == "0"
        assert request.fields["unique_filename"] == "0"
        assert request.fields["use_filename"] == "0"
    assert fake_cloudinary.assets[("video", "authenticated", _public_id(key))].data == data
    # Never one unbounded read: the file is streamed chunk by chunk.
    assert all(size is not None and 0 < size <= MIN_CHUNK_SIZE for size in source.read_sizes)
    # The caller's file stays the caller's to close.
    assert not source.closed


def test_audio_is_stored_as_a_cloudinary_video_resource(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    data = _payload(4096)
    key = _key("audio", "wav")

    storage.save(key, File(io.BytesIO(data), name="voice.wav"))

    (upload,) = fake_cloudinary.requests
    assert upload.path == f"/v1_1/{CLOUD}/video/upload"
    assert upload.headers["content-range"] == f"bytes 0-4095/{len(data)}"
    assert fake_cloudinary.assets[("video", "authenticated", _public_id(key))].data == data


@pytest.mark.parametrize(("folder", "extension"), [("images", "png"), ("thumbnails", "jpg")])
def test_images_and_posters_go_up_in_one_request_without_their_local_path(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary, tmp_path, folder, extension
) -> None:
    data = _payload(2048)
    local = tmp_path / "poster-from-ffmpeg.bin"
    local.write_bytes(data)
    key = _key(folder, extension)

    with local.open("rb") as handle:
        assert storage.save(key, File(handle)) == key

    (upload,) = fake_cloudinary.requests
    assert upload.path == f"/v1_1/{CLOUD}/image/upload"
    assert "content-range" not in upload.headers
    assert upload.fields["type"] == "authenticated"
    assert upload.fields["public_id"] == _public_id(key)
    assert upload.file_name == key.rsplit("/", 1)[1]
    assert fake_cloudinary.assets[("image", "authenticated", _public_id(key))].data == data


@pytest.mark.parametrize(
    ("folder", "extension", "resource_type"),
    [
        ("videos", "mp4", "video"),
        ("audio", "wav", "video"),
        ("images", "png", "image"),
        ("thumbnails", "jpg", "image"),
    ],
)
def test_delete_removes_the_asset_under_the_keys_resource_type(
    storage: CloudinaryStorage,
    fake_cloudinary: FakeCloudinary,
    folder: str,
    extension: str,
    resource_type: str,
) -> None:
    key = _key(folder, extension)
    storage.save(key, File(io.BytesIO(_payload(1024)), name="x"))

    storage.delete(key)

    (destroy,) = fake_cloudinary.requests_to("/destroy")
    assert destroy.path == f"/v1_1/{CLOUD}/{resource_type}/destroy"
    assert destroy.fields["public_id"] == _public_id(key)
    assert destroy.fields["type"] == "authenticated"
    assert destroy.fields["invalidate"] == "1"
    # The fake keys assets by resource type: a wrong one would have left the file behind.
    assert fake_cloudinary.assets == {}
    assert not storage.exists(key)


def test_deleting_a_file_that_is_not_there_is_not_an_error(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    key = _key("thumbnails", "jpg")

    storage.delete(key)

    (destroy,) = fake_cloudinary.requests
    assert destroy.path == f"/v1_1/{CLOUD}/image/destroy"
    assert destroy.fields["public_id"] == _public_id(key)


def test_open_returns_the_exact_bytes_in_a_seekable_file_spilled_to_disk(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary, settings
) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    data = _payload(3 * 1024 * 1024 + 17)
    key = _key("videos", "webm")
    storage.save(key, File(io.BytesIO(data), name="clip.webm"))

    with storage.open(key) as opened:
        assert opened.read() == data
        opened.seek(1_000_000)
        assert opened.read(64) == data[1_000_000:1_000_064]
        opened.seek(-10, io.SEEK_END)
        assert opened.read() == data[-10:]
        assert opened.size == len(data)
        assert isinstance(opened.file, tempfile.SpooledTemporaryFile)
        # A spooled file only has a name once it has moved from memory to a file on disk.
        assert opened.file.name is not None

    (download,) = fake_cloudinary.requests_to("/download")
    assert download.path == f"/v1_1/{CLOUD}/video/download"
    assert download.fields["public_id"] == _public_id(key)
    assert download.fields["format"] == "webm"
    assert download.fields["type"] == "authenticated"


def test_open_of_a_missing_file_raises_file_not_found(storage: CloudinaryStorage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.open(_key("images", "png"))


def test_exists_and_size_ask_the_admin_api_for_the_authenticated_asset(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    key = _key("images", "png")
    assert not storage.exists(key)

    storage.save(key, File(io.BytesIO(_payload(777)), name="x.png"))

    assert storage.exists(key)
    assert storage.size(key) == 777
    lookups = [request for request in fake_cloudinary.requests if request.method == "GET"]
    assert {request.path for request in lookups} == {
        f"/v1_1/{CLOUD}/resources/image/authenticated/{_public_id(key)}"
    }


def test_a_stored_key_is_never_replaced(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    key = _key("images", "png")
    storage.save(key, File(io.BytesIO(b"first"), name="x.png"))

    with pytest.raises(FileExistsError):
        storage.save(key, File(io.BytesIO(b"second"), name="x.png"))

    assert fake_cloudinary.assets[("image", "authenticated", _public_id(key))].data == b"first"


def test_url_is_a_signed_private_download_that_expires_soon(
    storage: CloudinaryStorage, settings
) -> None:
    key = _key("audio", "mp3")

    url = urlsplit(storage.url(key))

    query = dict(parse_qsl(url.query))
    assert url.path == f"/v1_1/{CLOUD}/video/download"
    assert query["public_id"] == _public_id(key)
    assert query["type"] == "authenticated"
    assert query["api_key"] == API_KEY
    assert FakeCloudinary._signed(query)
    ttl = settings.CLOUDINARY_DOWNLOAD_URL_TTL_SECONDS
    assert time.time() < int(query["expires_at"]) <= time.time() + ttl


def test_requests_are_signed_with_the_configured_secret(
    fake_cloudinary: FakeCloudinary, settings
) -> None:
    settings.CLOUDINARY_URL = f"cloudinary://{API_KEY}:not-the-secret@{CLOUD}"
    storage = CloudinaryStorage(upload_prefix=fake_cloudinary.prefix)

    with pytest.raises(cloudinary.exceptions.AuthorizationRequired):
        storage.save(_key("images", "png"), File(io.BytesIO(b"x"), name="x.png"))

    assert fake_cloudinary.assets == {}


def test_keys_outside_the_media_folders_are_refused_before_any_request(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    with pytest.raises(ValueError, match="not a media storage key"):
        storage.save("reports/summary.pdf", File(io.BytesIO(b"%PDF"), name="summary.pdf"))

    assert fake_cloudinary.requests == []


def test_an_empty_file_is_refused_instead_of_silently_not_uploaded(
    storage: CloudinaryStorage, fake_cloudinary: FakeCloudinary
) -> None:
    # With no bytes to read, the chunked upload would send nothing and still "succeed".
    with pytest.raises(ValueError, match="empty"):
        storage.save(_key("videos", "mp4"), File(io.BytesIO(b""), name="empty.mp4"))

    assert fake_cloudinary.requests == []


def test_nothing_may_assume_a_local_path(storage: CloudinaryStorage) -> None:
    with pytest.raises(NotImplementedError):
        storage.path(_key("videos", "mp4"))


@pytest.mark.parametrize(
    ("cloudinary_url", "chunk_size", "message"),
    [
        ("", MIN_CHUNK_SIZE, "needs CLOUDINARY_URL"),
        (f"https://{API_KEY}:{API_SECRET}@{CLOUD}", MIN_CHUNK_SIZE, "must look like"),
        (f"cloudinary://{API_KEY}@{CLOUD}", MIN_CHUNK_SIZE, "must look like"),
        (CLOUDINARY_URL, MIN_CHUNK_SIZE - 1, "CLOUDINARY_CHUNK_SIZE must be at least"),
    ],
)
def test_missing_or_malformed_configuration_is_improperly_configured(
    settings, cloudinary_url: str, chunk_size: int, message: str
) -> None:
    settings.CLOUDINARY_URL = cloudinary_url
    settings.CLOUDINARY_CHUNK_SIZE = chunk_size

    with pytest.raises(ImproperlyConfigured, match=message):
        CloudinaryStorage()
