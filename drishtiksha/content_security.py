"""Content-Security-Policy on every response.

No page uses inline script, inline style, `eval` or anything from another origin (front-end
libraries are vendored into `static/`), so the policy can be strict: whatever a page runs, loads
or connects to comes from this site. An injected `<script>`, inline handler or `style` attribute
(say, a filename that slipped past escaping) is then refused by the browser instead of run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy_header(directives: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Sets `settings.CONTENT_SECURITY_POLICY` on responses that do not carry a policy already."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.header = policy_header(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(HEADER, self.header)
        return response


def policy_replaced(**directives: list[str]) -> Callable:
    """A view decorator: this view's responses get the site's policy with `directives` replaced
    (names with `_` for `-`). Meant for third-party pages that cannot meet the strict policy."""
    replaced = {name.replace("_", "-"): sources for name, sources in directives.items()}

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response[HEADER] = policy_header({**settings.CONTENT_SECURITY_POLICY, **replaced})
            return response

        return wrapped

    return decorate
