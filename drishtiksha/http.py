"""Small HTTP helpers shared by the API, the pages and the error handlers."""

from __future__ import annotations

import functools
import uuid

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
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


_ID_PLACEHOLDER = str(uuid.UUID(int=0))


def reverse_for_id(viewname: str, kwarg: str, object_id: uuid.UUID | str) -> str:
    """`reverse(viewname, kwargs={kwarg: object_id})` for a route whose one argument is an id.

    The route is reversed once (per script prefix) and the id put into it, so that a list linking
    each of its hundreds of items does not resolve the URL configuration hundreds of times.
    """
    template = _route_template(viewname, kwarg, get_script_prefix())
    return template.replace(_ID_PLACEHOLDER, str(object_id))


@functools.lru_cache(maxsize=256)
def _route_template(viewname: str, kwarg: str, script_prefix: str) -> str:
    return reverse(viewname, kwargs={kwarg: _ID_PLACEHOLDER})


@receiver(setting_changed)
def _forget_route_templates(*, setting: str, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        _route_template.cache_clear()
