"""Request id: one identifier per request, on the response and in every log line it causes."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# Ids coming from a proxy or a client are kept only if they cannot break a log line or a header.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

_current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_from(incoming: str) -> str:
    """The id to use for a request: a sane incoming one (so a proxy's id follows it), else new."""
    return incoming if _ACCEPTABLE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return _current_request_id.get()


class RequestIdMiddleware:
    """Keep a sane incoming `X-Request-ID` (so a proxy's id follows the request), else make one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = request_id_from(incoming)
        request.request_id = request_id
        token = _current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every record so the log format can show it ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a failed response ("Internal Server Error: ...") after the middleware chain
        # has returned, but passes the request along.
        request = getattr(record, "request", None)
        record.request_id = current_request_id() or getattr(request, "request_id", None) or "-"
        return True
