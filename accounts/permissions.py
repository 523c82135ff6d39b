"""Permissions other apps' API views use."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import Role


class IsStaffRole(BasePermission):
    """Only ADMIN-role users: for monitoring, maintenance and anything global.

    Anonymous callers get 401 (DRF asks them to authenticate); authenticated non-admins get 403.
    """

    message = "This action is restricted to administrators."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.ADMIN)
