"""The origin check in front of every websocket.

Browsers always send `Origin` on a websocket handshake, and a page on another site must never ride
on a user's session cookie: a foreign origin is refused, as with Channels'
`AllowedHostsOriginValidator`. Programs that are not browsers (API clients) usually send no
`Origin` at all; they cannot borrow anyone's cookies, and they prove who they are with a one-time
ticket, so a handshake with no `Origin` is let through only when it carries `?ticket=`. A missing
`Origin` without a ticket is refused as before.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator

TICKET_QUERY_PARAMETER = "ticket"


def _has_origin(scope: dict[str, Any]) -> bool:
    return any(name == b"origin" for name, _ in scope.get("headers", []))


def _has_ticket(scope: dict[str, Any]) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    return bool(query.get(TICKET_QUERY_PARAMETER, [""])[0])


class OriginOrTicketValidator:
    """Allowed hosts' origins for browsers; no origin at all only with a one-time ticket."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.checked: OriginValidator = AllowedHostsOriginValidator(application)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not _has_origin(scope) and _has_ticket(scope):
            return await self.application(scope, receive, send)
        return await self.checked(scope, receive, send)
