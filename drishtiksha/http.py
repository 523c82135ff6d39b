"""Small HTTP helpers shared by the API, the pages and the error handlers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

API_PATH_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    """Whether an answer to this request must be JSON in the envelope rather than an HTML page."""
    return request.path.startswith(API_PATH_PREFIX)


def client_ip(request: HttpRequest) -> str:
    """The caller's address, trusting `X-Forwarded-For` only as far as `API_TRUSTED_PROXY_COUNT`.

    DRF's own rule is reused so that the login limiter, the pages and DRF's throttles always agree
    on who the caller is; trusting the header blindly would let anyone reset their counters.
    """
    return BaseThrottle().get_ident(request) or ""


def public_base_url(request: HttpRequest) -> str:
    """Where links in emails point: `PUBLIC_BASE_URL` when configured, else this request's origin.

    Configuring it is safer behind proxies: the Host header is then never trusted for a link that
    carries a password reset token.
    """
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")
