"""Services that write users, their credentials and their tokens.

The API and the pages both call these; nothing here knows about HTTP. Failures are domain errors
(`drishtiksha.errors`) carrying wire-format field names, which the API's exception handler and the
pages' forms turn into answers.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import Role, User
from accounts.selectors import user_for_password_reset
from accounts.throttling import (
    login_failure_record,
    login_failures_clear,
    login_lockout_remaining,
)
from accounts.tokens import TokenPair
from drishtiksha.errors import (
    AuthenticationFailed,
    Conflict,
    PermissionDenied,
    TooManyRequests,
    ValidationFailed,
)

INVALID_CREDENTIALS_MESSAGE = "Invalid email or password"
DUPLICATE_EMAIL_MESSAGE = "An account with this email already exists."
INVALID_REFRESH_MESSAGE = "The refresh token is invalid, expired or revoked."
WRONG_CURRENT_PASSWORD_MESSAGE = "The current password is incorrect."  # noqa: S105 - a message
INVALID_RESET_LINK_MESSAGE = "The password reset link is invalid or has expired."


@transaction.atomic
def user_ensure_superuser(*, email: str, password: str) -> tuple[User, bool]:
    """Create the admin account, or promote an existing one; returns (user, created).

    Safe to call on every start: an existing account keeps its password.
    """
    email = User.objects.normalize_email(email)
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is None:
        return User.objects.create_superuser(email, password), True
    if user.role != Role.ADMIN or not user.is_superuser or not user.is_active:
        user.role = Role.ADMIN
        user.is_superuser = True
        user.is_active = True
        user.save(update_fields=["role", "is_superuser", "is_active", "updated_at"])
    return user, False


def _validate_password(password: str, *, user: User, field: str) -> None:
    """Run Django's password validators; their messages become one field error."""
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(
            "The password is not strong enough.", field_errors={field: " ".join(exc.messages)}
        ) from exc


def user_signup(*, email: str, password: str, first_name: str, last_name: str) -> User:
    """Create an ordinary (USER role) account.

    The role is never taken from input: admins are made by `ensure_superuser`/`createsuperuser`
    or by another admin.
    """
    email = User.objects.normalize_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(DUPLICATE_EMAIL_MESSAGE, field_errors={"email": DUPLICATE_EMAIL_MESSAGE})
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    _validate_password(password, user=candidate, field="password")
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email, password, first_name=first_name, last_name=last_name
            )
    except (IntegrityError, ValidationError) as exc:
        # Lost a race with a concurrent signup for the same address.
        raise Conflict(
            DUPLICATE_EMAIL_MESSAGE, field_errors={"email": DUPLICATE_EMAIL_MESSAGE}
        ) from exc


def user_authenticate(*, email: str, password: str, client_ip: str) -> User:
    """Check credentials, counting failures per (address, email) to slow down password guessing.

    Unknown email, wrong password and inactive account all give the same message, so that the
    answer does not reveal which accounts exist or are disabled.
    """
    retry_after = login_lockout_remaining(client_ip=client_ip, email=email)
    if retry_after:
        raise TooManyRequests(
            f"Too many failed login attempts. Try again in {retry_after} seconds.",
            retry_after=retry_after,
        )
    user = authenticate(None, email=User.objects.normalize_email(email), password=password)
    if user is None:
        login_failure_record(client_ip=client_ip, email=email)
        raise AuthenticationFailed(INVALID_CREDENTIALS_MESSAGE)
    login_failures_clear(client_ip=client_ip, email=email)
    return user


def auth_tokens_issue(*, user: User) -> TokenPair:
    """Start an API login: a refresh token (recorded, so it can be revoked) and its access token."""
    refresh = RefreshToken.for_user(user)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


@transaction.atomic
def auth_tokens_refresh(*, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair, revoking the old one (rotation).

    The outstanding-token row is locked so that two concurrent uses of the same refresh token
    cannot both succeed: the second sees the first's blacklisting and gets a 401.
    """
    try:
        token = RefreshToken(refresh_token)
    except TokenError as exc:
        raise AuthenticationFailed(INVALID_REFRESH_MESSAGE) from exc
    outstanding = (
        OutstandingToken.objects.select_for_update()
        .filter(jti=token[jwt_settings.JTI_CLAIM])
        .order_by()  # the model orders by user, a join FOR UPDATE cannot take
        .first()
    )
    user = User.objects.filter(pk=outstanding.user_id).first() if outstanding else None
    if (
        outstanding is None
        or user is None
        or not user.is_active
        or BlacklistedToken.objects.filter(token=outstanding).exists()
        or token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password)
    ):
        raise AuthenticationFailed(INVALID_REFRESH_MESSAGE)
    BlacklistedToken.objects.create(token=outstanding)
    refresh = RefreshToken.for_user(user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def refresh_token_revoke(*, refresh_token: str) -> None:
    """Blacklist one refresh token (logout). An invalid or already revoked token is ignored:
    logging out must always succeed."""
    try:
        RefreshToken(refresh_token).blacklist()
    except TokenError:
        return


def refresh_tokens_revoke_all(*, user: User) -> int:
    """Blacklist every still-valid refresh token of the user; returns how many were revoked.

    Access tokens already handed out die too, because they carry a hash of the password (simplejwt's
    `CHECK_REVOKE_TOKEN`) and every caller of this function has just changed it.
    """
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(created)


def user_update_profile(
    *, user: User, first_name: str | None = None, last_name: str | None = None
) -> User:
    """Change the user's names, the only profile fields a user may edit; None keeps a name."""
    changes = {
        name: value
        for name, value in (("first_name", first_name), ("last_name", last_name))
        if value is not None
    }
    for name, value in changes.items():
        setattr(user, name, value)
    try:
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in changes])
    except ValidationError as exc:
        raise ValidationFailed(
            field_errors={name: " ".join(messages) for name, messages in exc.message_dict.items()}
        ) from exc
    if changes:
        user.save(update_fields=[*changes, "updated_at"])
    return user


@transaction.atomic
def _password_set(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    refresh_tokens_revoke_all(user=user)


def user_change_password(*, user: User, current_password: str, new_password: str) -> None:
    """Change a password, ending every other login: all refresh (and access) tokens are revoked.

    The caller keeps a browser session alive with `update_session_auth_hash`; an API caller gets a
    fresh token pair from `auth_tokens_issue`.
    """
    if not user.check_password(current_password):
        raise AuthenticationFailed(
            WRONG_CURRENT_PASSWORD_MESSAGE,
            field_errors={"currentPassword": WRONG_CURRENT_PASSWORD_MESSAGE},
        )
    _validate_password(new_password, user=user, field="newPassword")
    _password_set(user=user, password=new_password)


def password_reset_request(*, email: str, base_url: str) -> None:
    """Email a reset link if an active account has this address; silently do nothing otherwise,
    so the answer cannot be used to find out which addresses have accounts.

    `base_url` ("https://host/") is where the link points; callers pass `PUBLIC_BASE_URL` when it
    is configured rather than trusting the request's Host header.
    """
    user = User.objects.filter(email__iexact=User.objects.normalize_email(email)).first()
    if user is None or not user.is_active or not user.has_usable_password():
        return
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "reset_url": base_url.rstrip("/") + path,
        "valid_hours": max(1, round(settings.PASSWORD_RESET_TIMEOUT / 3600)),
    }
    subject = render_to_string("accounts/email/password_reset_subject.txt", context).strip()
    body = render_to_string("accounts/email/password_reset_body.txt", context)
    send_mail(subject, body, None, [user.email])


def password_reset_confirm(*, uidb64: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link; the link then stops working and every login ends."""
    user = user_for_password_reset(uidb64=uidb64, token=token)
    if user is None:
        raise ValidationFailed(
            INVALID_RESET_LINK_MESSAGE, field_errors={"token": INVALID_RESET_LINK_MESSAGE}
        )
    _validate_password(new_password, user=user, field="newPassword")
    _password_set(user=user, password=new_password)
    return user


def user_set_active(*, actor: User, user: User, is_active: bool) -> User:
    """Activate or deactivate an account (an admin's action).

    An inactive user can neither log in nor use a token or session already issued. Admins cannot
    deactivate themselves, so that the console can never lock out the person using it.
    """
    if not is_active and actor.pk == user.pk:
        raise PermissionDenied("You cannot deactivate your own account.")
    if user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active", "updated_at"])
    return user


def user_set_role(*, actor: User, user: User, role: Role) -> User:
    """Promote a user to admin or demote an admin to user (an admin's action).

    The role decides staff access; `is_superuser` follows it, so that an admin has every
    permission in the admin site and a demoted one keeps none. Admins cannot demote themselves.
    """
    if role != Role.ADMIN and actor.pk == user.pk:
        raise PermissionDenied("You cannot demote your own account.")
    is_superuser = role == Role.ADMIN
    if user.role != role or user.is_superuser != is_superuser:
        user.role = role
        user.is_superuser = is_superuser
        user.save(update_fields=["role", "is_superuser", "updated_at"])
    return user
