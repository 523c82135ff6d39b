"""One-time tickets that let an API client open the progress websocket.

Browsers authenticate their websocket with the session cookie. API clients hold a bearer token,
and a long-lived token in a URL ends up in proxy logs and browser history, so they trade it for a
ticket instead (`POST /api/v1/auth/ws-ticket`): random, valid for WS_TICKET_TTL_SECONDS, usable
once. Only a hash of the ticket is stored, so whoever can read the cache cannot replay tickets.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.models import User

# Where the progress websocket is served (drishtiksha/routing.py); the tickets are for it.
PROGRESS_WEBSOCKET_PATH = "/ws/progress/"
TICKET_ENTROPY_BYTES = 32
# A ticket made by `ws_ticket_issue` is 43 characters; anything much longer is not one of ours
# and is refused before hashing.
TICKET_MAX_LENGTH = 128
CACHE_KEY_PREFIX = "ws-ticket"


@dataclass(frozen=True)
class WsTicket:
    ticket: str
    expires_in: int


def _cache_key(ticket: str) -> str:
    return f"{CACHE_KEY_PREFIX}:{hashlib.sha256(ticket.encode()).hexdigest()}"


def ws_ticket_issue(*, user: User) -> WsTicket:
    """A fresh ticket for `user`, stored with its time to live."""
    ticket = secrets.token_urlsafe(TICKET_ENTROPY_BYTES)
    cache.set(_cache_key(ticket), str(user.pk), timeout=settings.WS_TICKET_TTL_SECONDS)
    return WsTicket(ticket=ticket, expires_in=settings.WS_TICKET_TTL_SECONDS)


def ws_ticket_consume(*, ticket: str) -> User | None:
    """The user a valid ticket was issued to (active or not: the caller decides), else None.

    The ticket is spent by this call. Two connections racing with one ticket both may read it,
    but only the one whose delete actually removed the key gets the user.
    """
    if not ticket or len(ticket) > TICKET_MAX_LENGTH:
        return None
    key = _cache_key(ticket)
    user_id = cache.get(key)
    if user_id is None or not cache.delete(key):
        return None
    return User.objects.filter(pk=user_id).first()
