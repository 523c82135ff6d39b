"""A real HTTP receiver for webhook deliveries, and settings that let the tests reach it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.conftest import (  # noqa: F401 - the browser fixtures, for the page test here
    asgi_server,
    browser_inference,
    browser_page,
    screenshot,
)


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next of `answers` (the last one repeats) and records it."""

    server: ThreadingHTTPServer
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=lambda: [(200, {})])
    requests: list[ReceivedRequest] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def answer_with(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        self.answers = [a if isinstance(a, tuple) else (a, {}) for a in answers]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
                index = min(len(state.requests), len(state.answers)) - 1
                status, headers = state.answers[index]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(server=server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def local_webhooks(settings):
    """Plain http to the loopback receiver allowed, and retries a fraction of a second apart."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.URL_FETCH_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_RETRY_BACKOFF_SECONDS = 0.05
    settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS = 0.1
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 2.0
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 2.0
    return settings
