"""User administration for staff: every change of role or activity goes through account services.

Role, activity and superuser status are read-only in the form: the actions below are the only way
to change them, so that the self-protection rules of the services always apply. Users are never
deleted here (deleting one would delete their media rows but not the stored files); deactivate
them instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from accounts.api_keys import api_key_revoke
from accounts.models import ApiKey, Role, User
from accounts.services import user_set_active, user_set_role, user_update_profile
from audit.services import audit_context_from_request
from drishtiksha.errors import DomainError


def _apply_to_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[User],
    change: Callable[[User], object],
    *,
    done: str,
) -> None:
    """Apply a service call to each selected user; a refusal is reported for that user only."""
    changed = 0
    for user in queryset:
        try:
            change(user)
        except DomainError as exc:
            modeladmin.message_user(request, f"{user.email}: {exc.message}", messages.ERROR)
        else:
            changed += 1
    if changed:
        modeladmin.message_user(request, f"{changed} user(s) {done}.", messages.SUCCESS)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "full_name",
        "role",
        "is_active",
        "media_count",
        "last_login",
        "created_at",
    )
    list_filter = ("role", "is_active", "created_at")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    fields = (
        "id",
        "email",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "is_superuser",
        "last_login",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "id",
        "email",
        "role",
        "is_active",
        "is_superuser",
        "last_login",
        "created_at",
        "updated_at",
    )
    actions = ("activate", "deactivate", "promote_to_admin", "demote_to_user")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(media_total=Count("media"))

    @admin.display(description="Media", ordering="media_total")
    def media_count(self, user: User) -> int:
        return user.media_total

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Accounts come from signup or `ensure_superuser`, which validate what a form here cannot.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        """Names are the only editable fields; they are saved by the profile service."""
        user_update_profile(user=obj, first_name=obj.first_name, last_name=obj.last_name)

    @admin.action(description="Activate selected users")
    def activate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _apply_to_each(
            self,
            request,
            queryset,
            lambda user: user_set_active(actor=request.user, user=user, is_active=True),
            done="activated",
        )

    @admin.action(description="Deactivate selected users")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _apply_to_each(
            self,
            request,
            queryset,
            lambda user: user_set_active(actor=request.user, user=user, is_active=False),
            done="deactivated",
        )

    @admin.action(description="Promote selected users to admin")
    def promote_to_admin(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _apply_to_each(
            self,
            request,
            queryset,
            lambda user: user_set_role(actor=request.user, user=user, role=Role.ADMIN),
            done="promoted to admin",
        )

    @admin.action(description="Demote selected admins to user")
    def demote_to_user(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _apply_to_each(
            self,
            request,
            queryset,
            lambda user: user_set_role(actor=request.user, user=user, role=Role.USER),
            done="demoted to user",
        )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made by their owners (the secret is shown to them once); staff can only look and
    revoke. Neither the secret nor its hash is ever shown or editable here."""

    list_display = ("name", "owner", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("name", "prefix", "owner__email")
    list_select_related = ("owner",)
    ordering = ("-created_at",)
    fields = ("id", "name", "owner", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Revoked keys stay listed (and in the audit trail) rather than vanish.
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        context = audit_context_from_request(request)
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, audit=context)
            revoked += 1
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)
