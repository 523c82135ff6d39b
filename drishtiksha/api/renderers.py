"""The JSON envelope every `/api/v1` answer travels in."""

from __future__ import annotations

from http import HTTPStatus
from http.client import responses as reason_phrases
from typing import Any

from rest_framework.renderers import JSONRenderer

from drishtiksha.api.responses import DEFAULT_SUCCESS_MESSAGE, error_envelope


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps a view's data as `{statusCode, data, message, success}`.

    Doing it here rather than in each view means a plain `Response(serializer.data)` from a generic
    view, a paginated list and an `ApiResponse` all come out the same. Error bodies are built by the
    exception handler and pass through untouched.
    """

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is None:
            return super().render(data, accepted_media_type, renderer_context)
        status = response.status_code
        if status == HTTPStatus.NO_CONTENT:
            return b""
        if not getattr(response, "enveloped", False):
            data = self._envelope(data, status=status, message=getattr(response, "message", None))
        return super().render(data, accepted_media_type, renderer_context)

    @staticmethod
    def _envelope(data: Any, *, status: int, message: str | None) -> dict[str, Any]:
        if status >= HTTPStatus.BAD_REQUEST:
            # A view returned an error status by hand instead of raising; keep the contract anyway.
            detail = data.get("detail") if isinstance(data, dict) else None
            return error_envelope(
                status=status, message=message or str(detail or reason_phrases.get(status, "Error"))
            )
        return {
            "statusCode": status,
            "data": data,
            "message": message or DEFAULT_SUCCESS_MESSAGE,
            "success": True,
        }
