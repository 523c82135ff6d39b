"""Whom the management commands upload as: a named account, or the first superuser."""

from __future__ import annotations

from django.core.management.base import CommandError

from accounts.models import User


def command_owner(email: str | None, *, option: str) -> User:
    """The active account with `email`, else the oldest active superuser; `option` is the
    command's flag for naming one, quoted when there is none."""
    if email:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with email {email}.")
        return user
    superuser = (
        User.objects.filter(is_superuser=True, is_active=True).order_by("created_at").first()
    )
    if superuser is None:
        raise CommandError(
            "No superuser exists to upload as; create one (manage.py createsuperuser) or pass "
            f"{option} EMAIL."
        )
    return superuser
