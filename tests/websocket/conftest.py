"""Fixtures for the progress websocket tests: communicators over the real ASGI application.

Every connection goes through the production stack (origin check, session middleware, routing)
and the real channels-redis layer, so a test proves what a browser or API client would see.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import User
from drishtiksha.asgi import application

ORIGIN = b"http://testserver"
# How long to wait for a message that must come: only a failing test waits it out, so it is
# generous enough for a loaded two-core CI machine running the whole suite.
RECEIVE_TIMEOUT = 10
# How long to listen for a message that must not come (narrowing, other users' events).
NOTHING_TIMEOUT = 0.5


def session_cookie(user: User) -> bytes:
    """A real session for `user`, as the browser's cookie header."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


@pytest.fixture
def communicator() -> Callable[..., WebsocketCommunicator]:
    """`communicator(path, user=..., origin=...)`: a client of `/ws/progress/`.

    `host`, `scheme` ("ws" or "wss", as the server reports it) and `headers` describe the
    handshake as it reaches the application, e.g. through a TLS-terminating proxy.
    """

    def build(
        query: str = "",
        *,
        user: User | None = None,
        origin: bytes | None = ORIGIN,
        host: bytes = b"testserver",
        scheme: str = "ws",
        headers: list[tuple[bytes, bytes]] = (),
    ) -> WebsocketCommunicator:
        sent = [(b"host", host), *headers]
        if origin is not None:
            sent.append((b"origin", origin))
        if user is not None:
            sent.append((b"cookie", session_cookie(user)))
        client = WebsocketCommunicator(application, f"/ws/progress/{query}", headers=sent)
        client.scope["scheme"] = scheme
        return client

    return build
