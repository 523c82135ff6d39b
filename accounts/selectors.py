"""Reads of users."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from accounts.models import User


def user_for_password_reset(*, uidb64: str, token: str) -> User | None:
    """The active user a reset link was made for, if the link is genuine and still valid.

    Django's token generator hashes the password and last login into the token, so a link stops
    working once it has been used or the user has logged in since.
    """
    try:
        user_id = force_str(urlsafe_base64_decode(uidb64))
        user = User.objects.get(pk=user_id, is_active=True)
    except (TypeError, ValueError, OverflowError, ValidationError, User.DoesNotExist):
        return None
    return user if default_token_generator.check_token(user, token) else None
