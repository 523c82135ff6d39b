"""`Authorization: Api-Key <key>` for the API, and the rule that a key cannot manage the account.

The key's owner becomes `request.user` and the key `request.auth`, so every view scopes to the
owner exactly as for a token or a session.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.api_keys import api_key_authenticate, api_key_record_use
from accounts.models import ApiKey, User

API_KEY_KEYWORD = "Api-Key"
INVALID_KEY_MESSAGE = "Invalid or revoked API key."
MALFORMED_HEADER_MESSAGE = "Malformed Authorization header: send `Api-Key <key>`."
API_KEY_REFUSED_MESSAGE = (
    "API keys cannot manage API keys or change the password; log in with your password."
)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = API_KEY_KEYWORD

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(MALFORMED_HEADER_MESSAGE)
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(MALFORMED_HEADER_MESSAGE) from exc
        key = api_key_authenticate(secret=secret)
        if key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
        api_key_record_use(
            key=key,
            method=request.method,
            path=request.path,
            ip_address=request.META.get("REMOTE_ADDR") or None,
        )
        return key.owner, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class NotApiKey(BasePermission):
    """For endpoints that manage the account itself: a leaked key must not be able to lock its
    owner out (by changing the password) or to mint further keys."""

    message = API_KEY_REFUSED_MESSAGE

    def has_permission(self, request: Request, view: object) -> bool:
        return not getattr(request.auth, "is_api_key", False)
