"""The one place where exceptions become HTTP answers for the API (DRF's `EXCEPTION_HANDLER`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from drishtiksha.api.casing import camelize
from drishtiksha.api.responses import ErrorResponse
from drishtiksha.errors import DomainError
from drishtiksha.middleware import current_request_id
from drishtiksha.outages import OUTAGE_MESSAGE, is_service_outage, log_outage, retry_after_seconds

logger = logging.getLogger(__name__)

INVALID_INPUT_MESSAGE = "Invalid input."
NOT_FOUND_MESSAGE = "Not found."
FORBIDDEN_MESSAGE = "You do not have permission to perform this action."
TOO_LARGE_MESSAGE = "The request body is too large."
MALFORMED_REQUEST_MESSAGE = "The request is malformed or has too many fields or files."
UNEXPECTED_MESSAGE = "An unexpected error occurred. Quote the request id when reporting it."
BEARER_CHALLENGE = 'Bearer realm="api"'
_NON_FIELD_KEYS = {api_settings.NON_FIELD_ERRORS_KEY, "__all__"}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Turn any exception raised by an API view into the error envelope.

    Nothing escapes as Django's HTML 500 page: an unexpected exception is logged with its stack
    trace and answered with a generic message and the request id, never with the trace itself.
    """
    request = context.get("request")
    request_id = getattr(request, "request_id", None) or current_request_id()
    set_rollback()

    if isinstance(exc, DomainError):
        headers = {}
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = BEARER_CHALLENGE
        if retry_after := getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(retry_after)
        return ErrorResponse(
            status=exc.status_code,
            message=exc.message,
            errors=[
                {"field": camelize(field), "message": message}
                for field, message in exc.field_errors.items()
            ],
            request_id=request_id,
            headers=headers,
        )
    if isinstance(exc, drf.ValidationError | DjangoValidationError):
        detail = exc.detail if isinstance(exc, drf.ValidationError) else _django_detail(exc)
        errors = list(_flatten_errors(detail))
        message = errors[0]["message"] if len(errors) == 1 else INVALID_INPUT_MESSAGE
        return ErrorResponse(status=400, message=message, errors=errors, request_id=request_id)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return ErrorResponse(status=404, message=NOT_FOUND_MESSAGE, request_id=request_id)
    if isinstance(exc, DjangoPermissionDenied):
        return ErrorResponse(status=403, message=FORBIDDEN_MESSAGE, request_id=request_id)
    if isinstance(exc, RequestDataTooBig):
        return ErrorResponse(status=413, message=TOO_LARGE_MESSAGE, request_id=request_id)
    if isinstance(exc, SuspiciousOperation):
        # Raised while parsing the body (TooManyFieldsSent, TooManyFilesSent, ...); Django itself
        # answers these 400, but DRF hands them to this handler first.
        logger.warning("Refused a suspicious request (request id %s): %s", request_id, exc)
        return ErrorResponse(status=400, message=MALFORMED_REQUEST_MESSAGE, request_id=request_id)
    if isinstance(exc, drf.APIException):
        return _api_exception_response(exc, request_id=request_id)
    if is_service_outage(exc):
        log_outage(request, exc)
        return outage_response(request_id=request_id)

    logger.exception("Unhandled exception in an API view (request id %s)", request_id)
    return ErrorResponse(status=500, message=UNEXPECTED_MESSAGE, request_id=request_id)


def outage_response(*, request_id: str | None) -> Response:
    return ErrorResponse(
        status=503,
        message=OUTAGE_MESSAGE,
        request_id=request_id,
        headers={"Retry-After": str(retry_after_seconds())},
    )


def _api_exception_response(exc: drf.APIException, *, request_id: str | None) -> Response:
    headers = {}
    status = exc.status_code
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        # DRF answers 403 when the view has no authenticator that can challenge; a missing or
        # bad credential is a 401 for our clients whatever the view.
        status = 401
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or BEARER_CHALLENGE
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return ErrorResponse(
        status=status, message=_detail_message(exc.detail), request_id=request_id, headers=headers
    )


def _detail_message(detail: Any) -> str:
    # simplejwt puts a dict ({"detail": ..., "code": ..., "messages": [...]}) in `detail`.
    if isinstance(detail, dict):
        return str(detail.get("detail") or next(iter(detail.values()), ""))
    if isinstance(detail, list):
        return str(detail[0]) if detail else ""
    return str(detail)


def _django_detail(exc: DjangoValidationError) -> Any:
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


def _flatten_errors(detail: Any, path: str | None = None) -> Iterator[dict[str, str | None]]:
    """Nested serializer errors as `[{field, message}]`, with camelCase dotted field paths."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                child = f"{path or ''}[{key}]"
            elif key in _NON_FIELD_KEYS:
                child = path
            else:
                child = f"{path}.{camelize(str(key))}" if path else camelize(str(key))
            yield from _flatten_errors(value, child)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                yield from _flatten_errors(item, f"{path or ''}[{index}]")
            else:
                yield {"field": path, "message": str(item)}
    else:
        yield {"field": path, "message": str(detail)}
