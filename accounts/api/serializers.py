"""Wire shapes of the auth API; field names are camelCase on the wire (see drishtiksha.api)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import API_KEY_NAME_MAX_LENGTH, ApiKey, User
from drishtiksha.api.serializers import CamelCaseModelSerializer, CamelCaseSerializer

NAME_MAX_LENGTH = User._meta.get_field("first_name").max_length


def _password_field(**kwargs: Any) -> serializers.CharField:
    # Passwords are taken exactly as typed: surrounding spaces are part of them.
    return serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}, **kwargs
    )


class UserSerializer(CamelCaseModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SignupSerializer(CamelCaseSerializer):
    email = serializers.EmailField()
    password = _password_field()
    first_name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    last_name = serializers.CharField(max_length=NAME_MAX_LENGTH)


class LoginSerializer(CamelCaseSerializer):
    email = serializers.EmailField()
    password = _password_field()


class AuthResultSerializer(CamelCaseSerializer):
    user = UserSerializer()
    token = serializers.CharField(help_text="Access token (also set as the authToken cookie).")
    refresh_token = serializers.CharField()


class TokenPairSerializer(CamelCaseSerializer):
    token = serializers.CharField(help_text="Access token (also set as the authToken cookie).")
    refresh_token = serializers.CharField()


class RefreshSerializer(CamelCaseSerializer):
    refresh_token = serializers.CharField()


class LogoutSerializer(CamelCaseSerializer):
    refresh_token = serializers.CharField(required=False, allow_blank=True)


class ProfileUpdateSerializer(CamelCaseSerializer):
    """Only the names can be changed; any other key (role, isActive, email...) is a 400."""

    reject_unknown_fields = True

    # Either name alone may be sent (PUT and PATCH alike), and the schema must say so.
    first_name = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False)
    last_name = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send firstName and/or lastName.")
        return attrs


class PasswordChangeSerializer(CamelCaseSerializer):
    current_password = _password_field()
    new_password = _password_field()
    # Optional: a form that asks twice sends both, and a mismatch must not change anything.
    confirm_password = _password_field(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        confirm = attrs.pop("confirm_password", None)
        if confirm is not None and confirm != attrs["new_password"]:
            raise serializers.ValidationError(
                {"confirmPassword": "The two new passwords do not match."}
            )
        return attrs


class PasswordResetRequestSerializer(CamelCaseSerializer):
    email = serializers.EmailField()


class PasswordResetConfirmSerializer(CamelCaseSerializer):
    uid = serializers.CharField(help_text="The `uidb64` part of the emailed link.")
    token = serializers.CharField(help_text="The `token` part of the emailed link.")
    new_password = _password_field()


class WsTicketSerializer(CamelCaseSerializer):
    ticket = serializers.CharField(
        help_text="Pass as `?ticket=` when opening the progress websocket; it works once."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid unused.")
    url = serializers.CharField(help_text="The websocket path with the ticket, for convenience.")


class ApiKeySerializer(CamelCaseModelSerializer):
    """A key as listed: never its secret or hash."""

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True, help_text="The secret: shown in this answer only, never again."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    name = serializers.CharField(max_length=API_KEY_NAME_MAX_LENGTH)
