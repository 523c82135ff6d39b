"""OpenAPI description of the conventions: the envelope, the error answers, the cookie credential.

`EnvelopeAutoSchema` (DRF's `DEFAULT_SCHEMA_CLASS`) documents each operation as it really answers:
every JSON success body wrapped in `{statusCode, data, message, success}`, and every error status
(declared by a view, or implied by what the view does) as the `ErrorEnvelope` component.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from drishtiksha.api.renderers import EnvelopeJSONRenderer

JSON_MEDIA_TYPE = "application/json"

ERROR_ENVELOPE = ResolvedComponent(
    name="ErrorEnvelope",
    type=ResolvedComponent.SCHEMA,
    object="ErrorEnvelope",
    schema={
        "type": "object",
        "required": ["statusCode", "success", "message", "errors"],
        "properties": {
            "statusCode": {"type": "integer", "example": 400},
            "success": {"type": "boolean", "description": "Always false.", "example": False},
            "message": {"type": "string", "example": "Invalid input."},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {
                        "field": {
                            "type": "string",
                            "nullable": True,
                            "description": "camelCase field path; null for non-field errors.",
                        },
                        "message": {"type": "string"},
                    },
                },
            },
            "requestId": {
                "type": "string",
                "description": "The request's id, also in the X-Request-ID response header.",
            },
        },
    },
)

ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `errors` names the fields.",
    "401": "Missing, invalid or expired credentials, or an inactive account.",
    "403": "Authenticated but not allowed (role, or a failed CSRF/Origin check).",
    "404": "No such object, not yours, or a page past the end.",
    "429": "Too many requests; see the Retry-After header.",
    "500": "Unexpected error; the body carries only a generic message and the request id.",
}


class EnvelopeAutoSchema(AutoSchema):
    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: Any,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._implied_error_codes(operation):
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        registry.register_on_missing(ERROR_ENVELOPE)
        for code, response in responses.items():
            if code == "204":
                continue
            if int(code) >= 400:
                response["content"] = {JSON_MEDIA_TYPE: {"schema": ERROR_ENVELOPE.ref}}
            else:
                self._wrap_success(response, status=int(code))
        return operation

    def _implied_error_codes(self, operation: dict[str, Any]) -> list[str]:
        codes = []
        has_query = any(param.get("in") == "query" for param in operation.get("parameters", []))
        if "requestBody" in operation or has_query:
            codes.append("400")
        security = operation.get("security", [])
        if security and {} not in security:
            codes += ["401", "403"]
        if "{" in self.path or has_query:
            codes.append("404")
        if self.view.get_throttles():
            codes.append("429")
        codes.append("500")
        return codes

    def _wrap_success(self, response: dict[str, Any], *, status: int) -> None:
        content = response.get("content", {})
        if JSON_MEDIA_TYPE in content:
            data_schema = content[JSON_MEDIA_TYPE].get("schema", {})
        elif not content and self._renders_envelope():
            # A view that answers with no data still answers with the envelope (`data: null`).
            data_schema = {"type": "object", "nullable": True}
        else:
            return
        response["content"] = content
        content[JSON_MEDIA_TYPE] = {
            **content.get(JSON_MEDIA_TYPE, {}),
            "schema": {
                "type": "object",
                "required": ["statusCode", "data", "message", "success"],
                "properties": {
                    "statusCode": {"type": "integer", "example": status},
                    "data": data_schema,
                    "message": {"type": "string", "example": "Success"},
                    "success": {
                        "type": "boolean",
                        "description": "Always true.",
                        "example": True,
                    },
                },
            },
        }

    def _renders_envelope(self) -> bool:
        return any(isinstance(r, EnvelopeJSONRenderer) for r in self.view.get_renderers())


class CookieJWTScheme(OpenApiAuthenticationExtension):
    target_class = "drishtiksha.api.authentication.CookieJWTAuthentication"
    name = "authTokenCookie"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.AUTH_COOKIE_NAME}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, a key created under /api/v1/auth/api-keys.",
        }
