"""Forms of the account pages. They check shape only; the services decide everything else
(password strength, duplicate emails, credentials), exactly as for the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import API_KEY_NAME_MAX_LENGTH, User
from drishtiksha.errors import AuthenticationFailed, TooManyRequests
from drishtiksha.http import client_ip

NAME_MAX_LENGTH = User._meta.get_field("first_name").max_length
PASSWORDS_DIFFER_MESSAGE = "The two passwords do not match."


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


def _password_field(label: str, *, autocomplete: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def _new_password_field(label: str) -> forms.CharField:
    return _password_field(
        label,
        autocomplete="new-password",
        help_text=password_validation.password_validators_help_text_html(),
    )


def _name_field(label: str, *, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": autocomplete}),
    )


class RepeatedPasswordForm(forms.Form):
    """A form where a new password is typed twice, in `password_fields` (first, repeat)."""

    password_fields = ("new_password", "new_password_again")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first_name, repeat_name = self.password_fields
        first, repeat = cleaned.get(first_name), cleaned.get(repeat_name)
        if first and repeat and first != repeat:
            self.add_error(repeat_name, PASSWORDS_DIFFER_MESSAGE)
        return cleaned


class LoginForm(forms.Form):
    email = _email_field()
    password = _password_field("Password", autocomplete="current-password")


class SignupForm(RepeatedPasswordForm):
    password_fields = ("password", "password_again")

    email = _email_field()
    first_name = _name_field("First name", autocomplete="given-name")
    last_name = _name_field("Last name", autocomplete="family-name")
    password = _new_password_field("Password")
    password_again = _password_field("Password (again)", autocomplete="new-password")


class ProfileForm(forms.Form):
    first_name = _name_field("First name", autocomplete="given-name")
    last_name = _name_field("Last name", autocomplete="family-name")


class PasswordChangeForm(RepeatedPasswordForm):
    current_password = _password_field("Current password", autocomplete="current-password")
    new_password = _new_password_field("New password")
    new_password_again = _password_field("New password (again)", autocomplete="new-password")


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=API_KEY_NAME_MAX_LENGTH,
        help_text="Say where the key is used, e.g. \u201cNewsroom CMS\u201d.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class PasswordResetRequestForm(forms.Form):
    email = _email_field()


class SetPasswordForm(RepeatedPasswordForm):
    new_password = _new_password_field("New password")
    new_password_again = _password_field("New password (again)", autocomplete="new-password")


class ConsoleLoginForm(AdminAuthenticationForm):
    """The admin's login form, checking credentials with `user_authenticate` like the API and the
    login page, so that the console shares their failed-login limit instead of being a way round
    it. `retry_after` is set when the limit refused the attempt."""

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = services.user_authenticate(
                    email=email, password=password, client_ip=client_ip(self.request)
                )
            except TooManyRequests as error:
                self.retry_after = error.retry_after
                raise ValidationError(error.message, code="too_many_attempts") from error
            except AuthenticationFailed as error:
                raise self.get_invalid_login_error() from error
            # Right password, but not staff: the stock admin message, and no session.
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
