"""A bound on request bodies, enforced before Django reads a byte of them.

Django's ASGI handler copies the whole body into a temporary file (memory, then the system temp
directory) before any middleware, view or upload handler runs, so the upload handler's size check
only fires once an oversized upload has been received and written to disk in full, by anyone,
signed in or not. This wrapper sits in front of Django and refuses such a body as it arrives:

- a declared `Content-Length` above the limit is answered 413 at once, without reading the body;
- a chunked body, or one longer than it claimed, is counted as it arrives and cut off with a 413
  as soon as it passes the limit; Django is told the client went away and reads no further.

The limit is the largest upload plus an allowance for multipart framing and the form fields next
to the file. Smaller bodies go on to Django, where non-upload endpoints keep their much smaller
`DATA_UPLOAD_MAX_MEMORY_SIZE` check and uploads the exact `MAX_UPLOAD_SIZE` one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from drishtiksha.api.responses import error_envelope
from drishtiksha.http import API_PATH_PREFIX
from drishtiksha.middleware import request_id_from

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024
_DISCONNECT: Message = {"type": "http.disconnect"}


# The batch upload route carries several files in one body, so it has a limit of its own.
BATCH_UPLOAD_PATH = "/api/v1/media/batch"


def request_body_limit(path: str = "") -> int:
    """Largest request body accepted, in bytes. Read per request: settings may change in tests."""
    if path == BATCH_UPLOAD_PATH:
        return batch_body_limit()
    return settings.MAX_UPLOAD_SIZE + settings.REQUEST_BODY_OVERHEAD_BYTES


def batch_body_limit() -> int:
    """Largest batch upload body: UPLOAD_BATCH_MAX_BYTES, and never less than one full upload."""
    largest = max(settings.UPLOAD_BATCH_MAX_BYTES, settings.MAX_UPLOAD_SIZE)
    return largest + settings.REQUEST_BODY_OVERHEAD_BYTES


def batch_too_large_message() -> str:
    return (
        "The request is too large: a batch upload may be at most "
        f"{settings.UPLOAD_BATCH_MAX_BYTES / _MIB:g} MiB in all."
    )


class RequestBodyLimit:
    """Answer 413 to any HTTP request whose body is larger than `request_body_limit()`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = request_body_limit(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, received=0, declared=declared)
            return

        received = 0
        refused = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return _DISCONNECT
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received <= limit:
                return message
            refused = True
            if not response_started:
                await _refuse(scope, send, received=received, declared=declared)
            # Django drops a request whose client went away, and never sees the chunk too many.
            return _DISCONNECT

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                # The server rejects a malformed length before the app sees it; if one does not,
                # counting still bounds the body.
                return None
    return None


def _request_id(scope: Scope) -> str:
    # The same rule as RequestIdMiddleware: keep a sane id from a proxy, else make one.
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-request-id":
            return request_id_from(value.decode("latin-1"))
    return request_id_from("")


def _too_large_message() -> str:
    return (
        f"The request is too large: uploads may be at most {settings.MAX_UPLOAD_SIZE / _MIB:g} MiB."
    )


async def _refuse(scope: Scope, send: Send, *, received: int, declared: int | None) -> None:
    request_id = _request_id(scope)
    path = scope.get("path", "")
    message = batch_too_large_message() if path == BATCH_UPLOAD_PATH else _too_large_message()
    logger.warning(
        "Refused %s %s (request id %s): body over the %d-byte limit (declared %s, received %d)",
        scope.get("method", ""),
        path,
        request_id,
        request_body_limit(path),
        declared if declared is not None else "no length",
        received,
    )
    if path.startswith(API_PATH_PREFIX):
        body = json.dumps(
            error_envelope(status=413, message=message, request_id=request_id),
            separators=(",", ":"),
        ).encode()
        content_type = b"application/json"
    else:
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Request too large</title>"
            f"<h1>Request too large</h1><p>{message}</p></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                # The rest of the body is never read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
