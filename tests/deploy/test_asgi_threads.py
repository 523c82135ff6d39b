"""A request's middleware and view run in one thread, reached in one crossing from the event loop.

Django's own ASGI handler builds the middleware chain in async mode, so a request used to cross
between the event loop and a worker thread some fifteen times (once per `process_request` and
`process_response` of each sync middleware, once for the view). The application is driven here
directly, with the project's middleware and a middleware and view that note the thread they run
in, while every crossing is counted.
"""

from __future__ import annotations

import asyncio
import threading

import asgiref.sync
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import path
from django.utils.deprecation import MiddlewareMixin

from drishtiksha.asgi_streaming import StreamingBodyASGIHandler

THREADS: dict[str, int] = {}


class ThreadNotingMiddleware(MiddlewareMixin):
    """Innermost, like Django's own `MiddlewareMixin` middleware: each hook notes its thread."""

    def process_request(self, request: HttpRequest) -> None:
        THREADS["process_request"] = threading.get_ident()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        THREADS["process_response"] = threading.get_ident()
        return response


_THREAD_STATE = threading.local()


def probe(request: HttpRequest) -> JsonResponse:
    THREADS["view"] = threading.get_ident()
    THREADS["left_by_an_earlier_request"] = getattr(_THREAD_STATE, "used", False)
    _THREAD_STATE.used = True
    return JsonResponse({"ok": True})


urlpatterns = [path("probe", probe)]


def _http_get(handler: StreamingBodyASGIHandler, path: str) -> list[dict]:
    sent: list[dict] = []
    body_given = False

    async def receive() -> dict:
        nonlocal body_given
        if body_given:
            await asyncio.sleep(3600)  # a client that stays until the answer
        body_given = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    asyncio.run(handler(scope, receive, send))
    return sent


@pytest.fixture
def crossings(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counted = {"sync_to_async": 0, "async_to_sync": 0}
    to_thread = asgiref.sync.SyncToAsync.__call__
    to_loop = asgiref.sync.AsyncToSync.__call__

    async def counted_to_thread(self, *args, **kwargs):
        counted["sync_to_async"] += 1
        return await to_thread(self, *args, **kwargs)

    def counted_to_loop(self, *args, **kwargs):
        counted["async_to_sync"] += 1
        return to_loop(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", counted_to_thread)
    monkeypatch.setattr(asgiref.sync.AsyncToSync, "__call__", counted_to_loop)
    return counted


@override_settings(
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.ThreadNotingMiddleware"],
)
def test_middleware_and_view_run_in_one_thread_reached_once(crossings):
    handler = StreamingBodyASGIHandler()
    THREADS.clear()

    sent = _http_get(handler, "/probe")

    assert sent[0]["status"] == 200
    # The project's middleware answered too (the request id is the outermost).
    assert any(name.lower() == b"x-request-id" for name, _ in sent[0]["headers"])
    ran_in = {THREADS[hook] for hook in ("process_request", "view", "process_response")}
    assert len(ran_in) == 1
    assert THREADS["view"] != threading.get_ident()  # not the event loop's thread
    # One for the `request_started` signal, one for the middleware and the view, one for the
    # response's close. Django's own handler made 17 here (15 without this test's middleware),
    # and one back to the event loop.
    assert crossings == {"sync_to_async": 3, "async_to_sync": 0}


@override_settings(ROOT_URLCONF=__name__)
def test_each_request_gets_a_thread_of_its_own():
    handler = StreamingBodyASGIHandler()
    seen = []
    for _ in range(2):
        THREADS.clear()
        assert _http_get(handler, "/probe")[0]["status"] == 200
        seen.append(THREADS["left_by_an_earlier_request"])

    # As under Django's handler: per-thread state (connections, locals) never leaks from one
    # request into the next. (Thread ids are compared nowhere: an ended thread's id is reused.)
    assert seen == [False, False]
