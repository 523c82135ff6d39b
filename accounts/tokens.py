"""JWT pairs as the API hands them out."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def access_token_for(*, user: User) -> str:
    """A bare access token (no refresh token row), for the `authToken` cookie set by the pages."""
    return str(AccessToken.for_user(user))
