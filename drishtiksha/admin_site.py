"""The Django admin as the operator console: the stock site plus a summary panel on its index.

Only ADMIN-role users get in: `User.is_staff` is derived from the role, and the stock site admits
active staff only. A visitor who is not logged in is sent to the admin login; a logged-in regular
user gets 403 on every admin page instead, as on the monitoring API and page: logging in again
would not help them. `ConsoleAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS so
that `admin.site` (and every `@admin.register`) is this site.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

# What the console shows for a value that is not there.
EMPTY = "—"


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Drishtiksha console"
    site_title = "Drishtiksha console"
    index_title = "Operations"

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable:
        """The stock guard (login redirect, no caching, CSRF), refusing signed-in non-staff.

        Every admin URL but the login page goes through here, model admins' included, so an
        unknown admin URL answers 403 as well and tells a regular user nothing about what exists.
        The login page stays open: it is where a regular user can switch to a staff account.
        """
        guarded = super().admin_view(view, cacheable)

        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return guarded(request, *args, **kwargs)

        return update_wrapper(inner, guarded)

    @property
    def login_form(self) -> type:
        """Credentials are checked by the accounts service, as for the API and the login page, so
        failures here count against the same per-(address, email) limit."""
        # Imported here: admin sites are built while apps load, before models may be imported.
        from accounts.forms import ConsoleLoginForm

        return ConsoleLoginForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The stock login page; once the failed-login limit is reached the right password is
        refused too, with 429 and Retry-After as on the login page."""
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # Imported here: admin sites are built while apps load, before models may be imported.
        from monitoring.console import console_summary_get

        return super().index(
            request, extra_context={**(extra_context or {}), "console": console_summary_get()}
        )


class ConsoleAdminConfig(AdminConfig):
    default_site = "drishtiksha.admin_site.ConsoleAdminSite"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def pretty_json(value: Any) -> str:
    """A JSON document indented for reading, cut at ADMIN_JSON_PREVIEW_MAX_CHARS characters."""
    if value in (None, {}, []):
        return EMPTY
    text = json.dumps(value, indent=2, ensure_ascii=False)
    limit = settings.ADMIN_JSON_PREVIEW_MAX_CHARS
    if len(text) > limit:
        text = f"{text[:limit]}\n… cut here: {len(text) - limit} more characters (see the API)."
    return format_html('<pre style="white-space: pre-wrap; max-height: 40rem">{}</pre>', text)
