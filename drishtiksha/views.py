"""Project-level views: the error handlers (JSON under /api/, HTML elsewhere)."""

from __future__ import annotations

import sys

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from drishtiksha.api.exceptions import (
    FORBIDDEN_MESSAGE,
    INVALID_INPUT_MESSAGE,
    NOT_FOUND_MESSAGE,
    TOO_LARGE_MESSAGE,
    UNEXPECTED_MESSAGE,
)
from drishtiksha.api.responses import error_envelope
from drishtiksha.http import is_api_request
from drishtiksha.middleware import current_request_id
from drishtiksha.outages import (
    OUTAGE_MESSAGE,
    is_service_outage,
    log_outage,
    outage_page,
    retry_after_seconds,
)


def _api_error(request: HttpRequest, *, status: int, message: str) -> JsonResponse:
    request_id = getattr(request, "request_id", None) or current_request_id()
    return JsonResponse(
        error_envelope(status=status, message=message, request_id=request_id),
        status=status,
        json_dumps_params={"separators": (",", ":")},  # as compact as DRF's own answers
    )


# Django calls these for errors raised outside DRF views: an unknown URL (including an id that does
# not fit a `<uuid:...>` converter), a crash in middleware, an oversized form body.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        if isinstance(exception, RequestDataTooBig):
            return _api_error(request, status=413, message=TOO_LARGE_MESSAGE)
        return _api_error(request, status=400, message=INVALID_INPUT_MESSAGE)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return _api_error(request, status=403, message=FORBIDDEN_MESSAGE)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return _api_error(request, status=404, message=NOT_FOUND_MESSAGE)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so it is still the one in flight.
    exception = sys.exc_info()[1]
    if is_service_outage(exception):
        log_outage(request, exception)
        if is_api_request(request):
            response = _api_error(request, status=503, message=OUTAGE_MESSAGE)
            response["Retry-After"] = str(retry_after_seconds())
            return response
        return outage_page(request)
    if is_api_request(request):
        return _api_error(request, status=500, message=UNEXPECTED_MESSAGE)
    return defaults.server_error(request)
