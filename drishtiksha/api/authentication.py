"""The three ways to authenticate an API call, and the `authToken` cookie they share.

Order in `DEFAULT_AUTHENTICATION_CLASSES`: the bearer header (simplejwt's `JWTAuthentication`),
then the Django session, then the cookie. A request carrying an explicit bearer token means exactly
that token; a logged-in browser session wins over a leftover cookie so that a stale cookie cannot
lock a page out of the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

if TYPE_CHECKING:
    from rest_framework_simplejwt.tokens import Token

    from accounts.models import User


class CookieJWTAuthentication(JWTAuthentication):
    """The access token from the httpOnly `authToken` cookie (what the browser extension uses).

    Browsers attach cookies to cross-site requests, so an unsafe method authenticated this way must
    prove it comes from a page we trust: an `Origin` among the allowed origins, or Django's CSRF
    token. Anything else is a 403.
    """

    def authenticate(self, request: Request) -> tuple[User, Token] | None:
        raw_token = request.COOKIES.get(settings.AUTH_COOKIE_NAME)
        if not raw_token:
            return None
        validated_token = self.get_validated_token(raw_token.encode())
        user = self.get_user(validated_token)
        if request.method not in SAFE_METHODS and not _origin_is_trusted(request):
            SessionAuthentication().enforce_csrf(request)
        return user, validated_token


def _origin_is_trusted(request: Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return origin_is_own_or_trusted(request, origin)


def origin_is_own_or_trusted(request: Request, origin: str) -> bool:
    own_origin = f"{request.scheme}://{request.get_host()}"
    return origin == own_origin or origin in settings.CSRF_TRUSTED_ORIGINS


def set_auth_cookie(response: HttpResponse, *, access_token: str) -> None:
    """Put the access token in the httpOnly cookie; it lives exactly as long as the token."""
    response.set_cookie(
        settings.AUTH_COOKIE_NAME,
        access_token,
        max_age=int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
        httponly=True,
        secure=settings.AUTH_COOKIE_SECURE,
        samesite=settings.AUTH_COOKIE_SAMESITE,
        domain=settings.AUTH_COOKIE_DOMAIN,
        path="/",
    )


def clear_auth_cookie(response: HttpResponse) -> None:
    response.delete_cookie(
        settings.AUTH_COOKIE_NAME,
        path="/",
        domain=settings.AUTH_COOKIE_DOMAIN,
        samesite=settings.AUTH_COOKIE_SAMESITE,
    )
