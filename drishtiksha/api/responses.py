"""Responses in the wire envelope.

A view returns `ApiResponse(data, message=..., status=...)`; `EnvelopeJSONRenderer` wraps it as
`{statusCode, data, message, success: true}`. Errors are never built by views: they raise a
`drishtiksha.errors.DomainError` (or let DRF raise) and the exception handler calls
`error_response`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

DEFAULT_SUCCESS_MESSAGE = "Success"


class ApiResponse(Response):
    """A success answer; `message` becomes the envelope's message."""

    def __init__(
        self,
        data: Any = None,
        *,
        message: str = DEFAULT_SUCCESS_MESSAGE,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(data, status=status, headers=headers)
        self.message = message


def error_envelope(
    *,
    status: int,
    message: str,
    errors: list[dict[str, str | None]] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The error body: `{statusCode, success: false, message, errors: [{field, message}]}`.

    `requestId` lets a user quote the failing request and an operator find its log lines.
    """
    body: dict[str, Any] = {
        "statusCode": status,
        "success": False,
        "message": message,
        "errors": errors or [],
    }
    if request_id:
        body["requestId"] = request_id
    return body


class ErrorResponse(Response):
    """A response whose data is already the error envelope; the renderer passes it through."""

    enveloped = True

    def __init__(
        self,
        *,
        status: int,
        message: str,
        errors: list[dict[str, str | None]] | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(
            error_envelope(status=status, message=message, errors=errors, request_id=request_id),
            status=status,
            headers=headers,
        )
