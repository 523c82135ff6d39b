"""Multipart request bodies flow into Django's upload parser as they arrive: written to disk once.

Django's ASGI handler reads the whole of a request body into a temporary file before it handles
the request; the multipart parser then reads the upload back out of that file and the upload
handler writes it again, into the file that is stored. A 1 GiB upload is written twice, and parsed
only once it has all arrived.

`StreamingBodyASGIHandler` hands a multipart request to Django at once, with a body fed from the
connection while the view reads it: the parser sees the bytes as they arrive, and the only copy
written is the upload handler's. At most `STREAMED_BODY_BUFFER_BYTES` wait in memory between the
two: the connection is read no faster than the parser takes the bytes. Other bodies (JSON, form
posts, chunked bodies) are read by Django as before.

The body limit in front (`drishtiksha.asgi_limits.RequestBodyLimit`) still counts the bytes as
they arrive, and the upload handler still checks the file's size with every chunk. When the limit
cuts a body off, the client goes away or sends nothing for `body_receive_timeout` seconds, the
next read of the body raises `RequestAborted`, so the upload stops and its temporary file goes.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, ASGIRequest

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

# Bytes received but not yet taken by the parser, at most; past it the connection waits.
STREAMED_BODY_BUFFER_BYTES = 8 * 1024 * 1024
_STREAMED_METHODS = {"POST", "PUT", "PATCH"}


def streams_body(scope: MutableMapping[str, Any]) -> bool:
    """Whether the request's body goes to Django as it arrives: multipart, of a known length."""
    if scope.get("method", "").upper() not in _STREAMED_METHODS:
        return False
    multipart = has_length = False
    for name, value in scope.get("headers", []):
        name = name.lower()
        if name == b"content-type":
            multipart = value.lower().startswith(b"multipart/form-data")
        elif name == b"content-length":
            has_length = True
    return multipart and has_length


class StreamedBody:
    """A request body read, in a worker thread, while the event loop is still receiving it.

    The event loop `put`s chunks and `end`s or `abort`s it; the view's thread `read`s. Reading
    from the event loop's own thread would wait for itself, so it is refused.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, buffer_bytes: int, timeout: float):
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._buffer_bytes = buffer_bytes
        self._timeout = timeout
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._ended = self._aborted = self.closed = False
        self._changed = threading.Condition()
        self._room = asyncio.Event()
        self._room.set()
        self._producer_waiting = False
        self._on_abort: list[Callable[[], None]] = []

    def when_aborted(self, callback: Callable[[], None]) -> None:
        """Have `callback` run, in the reading thread, when a read finds the body cut short.

        The upload handler removes its half-written file so: the parser only closes files that
        it has finished.
        """
        self._on_abort.append(callback)

    def _run_abort_callbacks(self) -> None:
        callbacks, self._on_abort = self._on_abort, []
        for callback in callbacks:
            callback()

    # --- the event loop's side ---

    async def put(self, data: bytes) -> None:
        with self._changed:
            if self.closed or self._aborted:
                return
            self._chunks.append(data)
            self._buffered += len(data)
            self._changed.notify()
            full = self._buffered >= self._buffer_bytes
            if full:
                self._room.clear()
                self._producer_waiting = True
        if full:
            await self._room.wait()

    def end(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def abort(self) -> None:
        with self._changed:
            self._aborted = True
            self._chunks.clear()
            self._buffered = 0
            self._changed.notify_all()
        self._room.set()

    # --- the reader's side (a file-like object for Django's request) ---

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(STREAMED_BODY_BUFFER_BYTES), b""))
        if size == 0:
            return b""
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("a streamed request body cannot be read in the event loop thread")
        with self._changed:
            while not self._chunks:
                if self._aborted:
                    reason = "the client went away or the body was refused"
                    break
                if self.closed:
                    raise ValueError("I/O operation on a closed request body")
                if self._ended:
                    return b""
                if not self._changed.wait(self._timeout):
                    self._aborted = True
                    reason = f"no request body for {self._timeout:g} s"
                    break
            else:
                reason = ""
            if not reason:
                # What has arrived, up to `size`, as a socket gives it: joining chunks into
                # exactly `size` bytes would copy the upload once more; the parser takes any length.
                data = self._chunks.popleft()
                if len(data) > size:
                    self._chunks.appendleft(data[size:])
                    data = data[:size]
                self._buffered -= len(data)
                if self._producer_waiting and self._buffered < self._buffer_bytes // 2:
                    self._producer_waiting = False
                    self._loop.call_soon_threadsafe(self._room.set)
        if reason:
            self._run_abort_callbacks()
            raise RequestAborted(reason)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._chunks.clear()
            self._buffered = 0
            self._changed.notify_all()
        self._loop.call_soon_threadsafe(self._room.set)


class _StreamingReceive:
    """The `receive` Django is given: the body goes to a `StreamedBody`, fed by one task.

    Django calls it once more after reading the body, to learn when the client goes away; that
    call waits for the feeding task, which ends with the client's disconnect.
    """

    def __init__(self, receive: Receive):
        self._receive = receive
        self.feeder: asyncio.Task | None = None

    def start(self, body: StreamedBody) -> None:
        self.feeder = asyncio.ensure_future(self._feed(body))

    async def _feed(self, body: StreamedBody) -> Message:
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    body.abort()
                    return message
                if data := message.get("body", b""):
                    await body.put(data)
                if not message.get("more_body", False):
                    body.end()
                    break
            return await self._receive()
        except BaseException:
            body.abort()
            raise

    async def __call__(self) -> Message:
        if self.feeder is None:
            return await self._receive()
        return await asyncio.shield(self.feeder)


class StreamingBodyASGIHandler(ASGIHandler):
    """Django's ASGI handler, streaming multipart bodies into the request instead of spooling,
    and running the middleware and the view of a request in one thread.

    Django's own handler builds the middleware chain in async mode. Every view here is sync and
    so is every middleware but CORS, so each request then crossed between the event loop and a
    worker thread some fifteen times: once per `process_request`/`process_response` of each
    `MiddlewareMixin` middleware, once for WhiteNoise, once for the view. Each crossing is a
    future, a context copy and two thread wake-ups, and under load each of them waits for the
    interpreter lock behind every other request. Here the chain is built in sync mode, as under
    WSGI, and a request makes one crossing for it (three in all, with the `request_started`
    signal and the response's close), in the thread Django keeps for that request.
    """

    def __init__(self):
        super(ASGIHandler, self).__init__()
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def handle(self, scope, receive, send):
        if not streams_body(scope):
            await super().handle(scope, receive, send)
            return
        streaming_receive = _StreamingReceive(receive)
        try:
            await super().handle(scope, streaming_receive, send)
        finally:
            if streaming_receive.feeder is not None and not streaming_receive.feeder.done():
                # The answer went out before the whole body came (401, 413, ...): stop reading.
                streaming_receive.feeder.cancel()

    async def read_body(self, receive):
        if not isinstance(receive, _StreamingReceive):
            return await super().read_body(receive)
        body = StreamedBody(
            asyncio.get_running_loop(),
            buffer_bytes=STREAMED_BODY_BUFFER_BYTES,
            timeout=ASGIRequest.body_receive_timeout,
        )
        receive.start(body)
        return body


def streaming_asgi_application() -> StreamingBodyASGIHandler:
    """As `django.core.asgi.get_asgi_application()`, with multipart bodies streamed."""
    django.setup(set_prefix=False)
    return StreamingBodyASGIHandler()
