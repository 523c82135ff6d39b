"""The origin check in front of every websocket.

Browsers always send `Origin` on a websocket handshake, and a page on another site must never ride
on a user's session cookie. The rule is the one Django's CSRF check applies to HTTP: the origin
must be this site's own (the scheme, host and port the handshake was addressed to) or one of
`CSRF_TRUSTED_ORIGINS`. Host alone is not enough: another port of the same machine or plain http
next to https is another site, and may be run by someone else.

Programs that are not browsers (API clients) usually send no `Origin` at all; they cannot borrow
anyone's cookies, and they prove who they are with a one-time ticket, so a handshake with no
`Origin` is let through only when it carries `?ticket=`. A missing `Origin` without a ticket is
refused.
"""

from __future__ import annotations

import io
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http.request import is_same_domain

TICKET_QUERY_PARAMETER = "ticket"
DEFAULT_PORTS = {"http": 80, "https": 443}
# The scheme of the page that opened a websocket, from the websocket's own scheme.
HTTP_SCHEME_OF = {"ws": "http", "wss": "https"}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int | None  # the scheme's default port when the URL names none


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an origin such as `https://example.com`, or None if it is not one.

    The default port is filled in, so `https://example.com` and `https://example.com:443` are the
    same origin, as they are to a browser.
    """
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    return Origin(scheme, parts.hostname.lower(), port or DEFAULT_PORTS.get(scheme))


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            return value.decode("latin1")
    return None


def _has_ticket(scope: dict[str, Any]) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    return bool(query.get(TICKET_QUERY_PARAMETER, [""])[0])


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin of the pages of this site that may open this websocket; None for a Host that is
    not in ALLOWED_HOSTS.

    The handshake is read as the HTTP request Django would build from it, so the host
    (`ALLOWED_HOSTS`, `USE_X_FORWARDED_HOST`) and the scheme (`SECURE_PROXY_SSL_HEADER`) are
    decided exactly as for the site's HTTP requests and their CSRF check.
    """
    scheme = HTTP_SCHEME_OF.get(scope.get("scheme") or "ws", "http")
    request = ASGIRequest(
        {**scope, "type": "http", "method": "GET", "scheme": scheme}, io.BytesIO()
    )
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return parse_origin(f"{request.scheme}://{host}")


def origin_is_trusted(origin: Origin) -> bool:
    """Whether `CSRF_TRUSTED_ORIGINS` names this origin, with Django's `https://*.example.com`
    wildcard for subdomains."""
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = parse_origin(entry.replace("://*.", "://", 1) if wildcard else entry)
        if trusted is None or (trusted.scheme, trusted.port) != (origin.scheme, origin.port):
            continue
        if trusted.host == origin.host or (
            wildcard and is_same_domain(origin.host, f".{trusted.host}")
        ):
            return True
    return False


def origin_allowed(scope: dict[str, Any], value: str) -> bool:
    origin = parse_origin(value)
    if origin is None:  # "null" (sandboxed frames, file://) and anything malformed
        return False
    return origin == own_origin(scope) or origin_is_trusted(origin)


class OriginOrTicketValidator:
    """This site's (or a trusted) origin for browsers; no origin at all only with a ticket."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origin = _header(scope, b"origin")
        allowed = _has_ticket(scope) if origin is None else origin_allowed(scope, origin)
        if allowed:
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
