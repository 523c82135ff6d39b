"""Request bodies over the limit are refused as they arrive, before Django spools them to disk.

The ASGI application is driven directly with a client written here, which counts how much of the
body the application pulled; then a real uvicorn is sent a declared 2 GiB body and a chunked one.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import time
from collections.abc import Iterator

import pytest

from drishtiksha.asgi import application
from tests.fixtures.servers import uvicorn_serving

KIB = 1024
MIB = 1024 * KIB


class BodyClient:
    """One HTTP request as an ASGI server presents it: `receive` yields `chunks` one by one."""

    def __init__(self, chunks: Iterator[bytes] | list[bytes]):
        self.chunks = iter(chunks)
        self.pulled = 0  # body messages the application asked for
        self.bytes_pulled = 0
        self.sent: list[dict] = []
        self._body_done = False
        self._response_done = asyncio.Event()

    async def receive(self) -> dict:
        if self._body_done:
            # After the body, a server answers `receive` only when the client goes away.
            await self._response_done.wait()
            return {"type": "http.disconnect"}
        self.pulled += 1
        chunk = next(self.chunks, None)
        if chunk is None:
            self._body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.bytes_pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: dict) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._response_done.set()

    @property
    def status(self) -> int:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, f"expected one response, got {len(starts)}"
        return starts[0]["status"]

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return {name.decode().lower(): value.decode() for name, value in start["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def _call(
    client: BodyClient,
    *,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
) -> BodyClient:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def run() -> None:
        await asyncio.wait_for(application(scope, client.receive, client.send), timeout=30)

    asyncio.run(run())
    return client


def _chunks(chunk_size: int, count: int) -> Iterator[bytes]:
    # Always a bounded body: were the limit gone, Django would spool an endless one to disk.
    for _ in range(count):
        yield b"x" * chunk_size


@pytest.fixture
def small_limit(settings):
    """A 64 KiB upload limit plus 16 KiB of allowance: request bodies up to 80 KiB pass."""
    settings.MAX_UPLOAD_SIZE = 64 * KIB
    settings.REQUEST_BODY_OVERHEAD_BYTES = 16 * KIB
    return 80 * KIB


def test_declared_oversized_upload_is_413_in_the_envelope_before_any_body_is_read(settings):
    settings.MAX_UPLOAD_SIZE = 500 * MIB
    client = BodyClient(_chunks(64 * KIB, 4))
    limit = settings.MAX_UPLOAD_SIZE + settings.REQUEST_BODY_OVERHEAD_BYTES

    _call(
        client,
        method="POST",
        path="/api/v1/media",
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(limit + 1),
            "x-request-id": "req-too-large-01",
        },
    )

    assert client.pulled == 0
    assert client.status == 413
    assert client.headers["content-type"] == "application/json"
    assert client.headers["connection"] == "close"
    assert client.headers["x-request-id"] == "req-too-large-01"
    body = json.loads(client.body)
    assert body == {
        "statusCode": 413,
        "success": False,
        "message": "The request is too large: uploads may be at most 500 MiB.",
        "errors": [],
        "requestId": "req-too-large-01",
    }


def test_declared_oversized_page_form_is_a_short_html_413(small_limit):
    client = BodyClient(_chunks(16 * KIB, 8))

    _call(
        client,
        method="POST",
        path="/upload/",
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(small_limit + 1),
        },
    )

    assert client.pulled == 0
    assert client.status == 413
    assert client.headers["content-type"].startswith("text/html")
    assert b"Request too large" in client.body
    assert b"0.0625 MiB" in client.body  # 64 KiB, the limit as set in this test


@pytest.mark.parametrize(
    "declared",
    [None, "1000"],
    ids=["chunked, no length", "longer than its declared length"],
)
def test_a_body_is_cut_off_once_past_the_limit(small_limit, declared):
    chunk = 16 * KIB
    client = BodyClient(_chunks(chunk, 4 * small_limit // chunk))
    headers = {"content-type": "multipart/form-data; boundary=x"}
    if declared is not None:
        headers["content-length"] = declared

    _call(client, method="POST", path="/api/v1/media", headers=headers)

    assert client.status == 413
    assert json.loads(client.body)["statusCode"] == 413
    # 80 KiB pass in five chunks; the sixth crosses the limit and nothing more is asked for.
    assert client.pulled == small_limit // chunk + 1


def test_small_requests_reach_django():
    client = _call(BodyClient([]), method="GET", path="/api/health")

    assert client.status == 200
    assert json.loads(client.body)["message"] == "Drishtiksha is running"
    assert "x-request-id" in client.headers


@pytest.mark.django_db(transaction=True)
def test_a_body_of_exactly_the_limit_reaches_django(settings):
    payload = json.dumps({"email": "nobody@example.com", "password": "not-the-password"})
    body = payload.encode()
    settings.MAX_UPLOAD_SIZE = len(body)
    settings.REQUEST_BODY_OVERHEAD_BYTES = 0
    client = BodyClient([body[:10], body[10:]])

    _call(
        client,
        method="POST",
        path="/api/v1/auth/login",
        headers={"content-type": "application/json", "content-length": str(len(body))},
    )

    # The login view itself answered: unknown credentials.
    assert client.bytes_pulled == len(body)
    assert client.status == 401
    assert json.loads(client.body)["success"] is False


def test_a_bad_small_login_still_gets_django_s_own_400():
    body = b'{"email": "not-an-email"}'
    client = BodyClient([body])

    _call(
        client,
        method="POST",
        path="/api/v1/auth/login",
        headers={"content-type": "application/json", "content-length": str(len(body))},
    )

    assert client.status == 400
    assert json.loads(client.body)["errors"]


# --- Through a real uvicorn -----------------------------------------------------------------------

# Each test below must get its answer well within this; without the limit it never comes at all.
ANSWER_TIMEOUT_SECONDS = 8.0
SEND_CHUNK = 64 * KIB


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def uvicorn_url(tmp_path_factory) -> Iterator[str]:
    """uvicorn serving the real ASGI app with a 1 MiB upload limit (+1 MiB allowance)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DRISHTIKSHA_VAR_DIR": str(tmp_path_factory.mktemp("var")),
        "MAX_UPLOAD_SIZE": str(1 * MIB),
        "REQUEST_BODY_OVERHEAD_BYTES": str(1 * MIB),
    }
    # No request below touches the database: the refusals happen before Django.
    env.pop("DATABASE_URL", None)
    with uvicorn_serving(env=env, port=port) as url:
        yield url


def _send_slowly_until_answered(url: str, head: bytes, *, chunked: bool) -> tuple[bytes, int]:
    """Send `head`, then body chunks with pauses until the server answers and closes.

    Returns everything the server sent and how many body bytes were sent before the answer came.
    """
    port = int(url.rsplit(":", 1)[1])
    sent = 0
    answer = b""
    deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_SECONDS) as sock:
        sock.sendall(head)
        sending = True
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.02)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break  # the server closed the connection
                answer += data
                sending = False  # answered: a client stops sending here
                continue
            if sending:
                chunk = b"x" * SEND_CHUNK
                frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                try:
                    sock.sendall(frame)
                except (BrokenPipeError, ConnectionResetError):
                    sending = False
                    continue
                sent += len(chunk)
        else:
            raise AssertionError(
                f"no answer and no close within {ANSWER_TIMEOUT_SECONDS} s; sent {sent} bytes,"
                f" got {answer[:200]!r}"
            )
    return answer, sent


def _status_and_body(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_uvicorn_answers_a_declared_2_gib_upload_with_413_after_a_few_megabytes(uvicorn_url):
    head = (
        b"POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\n"
        b"Content-Length: %d\r\n\r\n" % (2 * 1024 * MIB)
    )

    answer, sent = _send_slowly_until_answered(uvicorn_url, head, chunked=False)

    status, headers, body = _status_and_body(answer)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["statusCode"] == 413
    assert sent < 4 * MIB


def test_uvicorn_cuts_off_a_chunked_upload_past_the_limit(uvicorn_url):
    head = (
        b"POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )

    answer, sent = _send_slowly_until_answered(uvicorn_url, head, chunked=True)

    status, _, body = _status_and_body(answer)
    assert status == 413
    assert json.loads(body)["statusCode"] == 413
    # The limit is 2 MiB; what was sent on top of it is only what was in flight when it was cut.
    assert 2 * MIB < sent < 6 * MIB
