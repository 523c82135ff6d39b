"""Socket.IO at `/socket.io/` for the single-page app, over the real stack.

uvicorn serves `drishtiksha.asgi:application` in a subprocess; a real Celery worker runs the
analyses against the HTTP fake inference server; the progress relay forwards the server's frame
progress; events travel over the real Redis channel layer. The clients are python-socketio's
`AsyncClient` (what `io(BACKEND_URL, {auth: {token}})` does in the app) and, for the plain
websocket, a `websockets` client with a ticket.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import requests
import socketio
from django.db import connections
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken
from websockets.sync.client import connect as websocket_connect

from media_analysis.choices import RunStatus
from media_analysis.relay import ProgressRelay
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fakes.inference_server import Failure, FakeModel
from tests.fixtures.pipeline import FAST_PIPELINE_ENV, _test_database_url, wait_for
from tests.fixtures.servers import uvicorn_serving

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A message that must come: only a failing test waits this long.
RECEIVE_TIMEOUT = 60
# How long to listen for messages that must not come (another user's events).
NOTHING_TIMEOUT = 1.0
PROGRESS_UPDATE_KEYS = {"mediaId", "event", "message", "data"}
PROGRESS_DATA_KEYS = {"model_name", "progress", "total", "error_message"}
FRAME_STEPS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve(transactional_db, fast_pipeline) -> Iterator[Callable[[], str]]:
    """`serve()` starts uvicorn on the test database, Redis and the current fake inference
    server (start that first); returns the base URL."""
    servers: list[Any] = []

    def start() -> str:
        env = {
            **os.environ,
            **FAST_PIPELINE_ENV,
            "DJANGO_ENV": "development",
            "DATABASE_URL": _test_database_url(),
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": fast_pipeline.REDIS_URL,
            "ML_SERVER_URL": fast_pipeline.ML_SERVER_URL,
            "ML_SERVER_API_KEY": fast_pipeline.ML_SERVER_API_KEY,
            "MEDIA_ROOT": str(fast_pipeline.MEDIA_ROOT),
        }
        server = uvicorn_serving(env=env, port=_free_port())
        servers.append(server)
        return server.__enter__()

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)


@pytest.fixture
def relay(settings, fake_inference) -> Iterator[ProgressRelay]:
    """The progress relay in a thread, on the fake inference server's progress channel."""
    channel = f"test-progress-{uuid.uuid4().hex}"
    fake_inference.progress_channel = channel
    relay = ProgressRelay(write_interval=0)
    stop = threading.Event()

    def run() -> None:
        try:
            relay.run(redis_url=settings.REDIS_URL, channel=channel, stop=stop)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = redis.Redis.from_url(settings.REDIS_URL)
    wait_for(lambda: client.pubsub_numsub(channel)[0][1] == 1)
    client.close()
    yield relay
    stop.set()
    thread.join(10)


class SocketIOListener:
    """A python-socketio `AsyncClient` on its own event loop in a thread, recording every event
    of the contract; the test talks to it synchronously."""

    EVENTS = ("progress_update", "media_update", "processing_error", "connect_error")

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.client = socketio.AsyncClient(reconnection=False)
        for name in self.EVENTS:
            self.client.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(payload: Any) -> None:
            with self._lock:
                self.received.append((name, payload))

        return record

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(RECEIVE_TIMEOUT)

    def connect(self, url: str, *, auth: Any = None, **options: Any) -> None:
        self._call(self.client.connect(url, auth=auth, wait_timeout=RECEIVE_TIMEOUT, **options))

    def close(self) -> None:
        self._call(self.client.disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def events(self, name: str | None = None) -> list[Any]:
        with self._lock:
            return [payload for kind, payload in self.received if name in (None, kind)]

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for kind, _ in self.received]


@pytest.fixture
def listener() -> Iterator[Callable[[], SocketIOListener]]:
    made: list[SocketIOListener] = []

    def make() -> SocketIOListener:
        made.append(SocketIOListener())
        return made[-1]

    yield make
    for one in made:
        one.close()


class PlainWebsocketListener:
    """The plain progress websocket (`/ws/progress/?ticket=`), read in a thread."""

    def __init__(self, url: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._connection = websocket_connect(url, open_timeout=RECEIVE_TIMEOUT)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(json.loads(self._connection.recv(timeout=0.2)))
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - the connection closed
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._connection.close()


def login(url: str, user) -> str:
    response = requests.post(
        f"{url}/api/v1/auth/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD},
        timeout=RECEIVE_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["token"]


def upload(url: str, token: str, path) -> str:
    with open(path, "rb") as handle:
        response = requests.post(
            f"{url}/api/v1/media",
            headers={"Authorization": f"Bearer {token}"},
            files={"media": (path.name, handle, "video/mp4")},
            data={"description": "socket.io test"},
            timeout=RECEIVE_TIMEOUT,
        )
    assert response.status_code == 202, response.text
    return response.json()["data"]["id"]


def media_detail(url: str, token: str, media_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{url}/api/v1/media/{media_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=RECEIVE_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def final_media_update(listener: SocketIOListener, media_id: str) -> dict[str, Any]:
    """The media_update that shows the media item in a final status."""
    return wait_for(
        lambda: next(
            (
                media
                for media in listener.events("media_update")
                if media["id"] == media_id and media["status"] in RunStatus.final()
            ),
            None,
        ),
        timeout=RECEIVE_TIMEOUT,
    )


def refusal(listener: SocketIOListener, url: str, auth: Any) -> str:
    """The reason the server gave for refusing the connection (the app's `connect_error`)."""
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.connect(url, auth=auth)
    [error] = listener.events("connect_error")
    return error["message"]


def test_a_connection_without_a_usable_token_is_refused_with_a_reason(
    fake_inference, serve, listener
):
    url = serve()
    user = UserFactory()
    expired = AccessToken.for_user(user)
    expired.set_exp(from_time=timezone.now() - timedelta(hours=2), lifetime=timedelta(hours=1))

    without = refusal(listener(), url, None)
    empty = refusal(listener(), url, {"token": ""})
    garbage = refusal(listener(), url, {"token": "not-a-jwt"})
    late = refusal(listener(), url, {"token": str(expired)})
    user.is_active = False
    user.save(update_fields=["is_active"])
    deactivated = refusal(listener(), url, {"token": str(AccessToken.for_user(user))})

    assert "Not authenticated" in without
    assert "Not authenticated" in empty
    assert "invalid or expired" in garbage
    assert "invalid or expired" in late
    assert "deactivated" in deactivated
    # The same kind of token, unexpired and for an active account, is let in.
    welcome = listener()
    welcome.connect(url, auth={"token": str(AccessToken.for_user(UserFactory()))})
    assert welcome.client.connected


def test_a_real_run_reaches_the_users_socket_and_no_one_elses(
    fake_inference, relay, pipeline_worker, serve, listener, media_file, settings
):
    siglip = fake_inference.model("SIGLIP-LSTM-V4")
    siglip.progress_events = FRAME_STEPS
    # The model answers once the relay has passed its frame progress on, as a real minutes-long
    # analysis does; the client waits longer than the hold.
    siglip.hold_until = lambda: relay.counters["forwarded"] >= FRAME_STEPS
    settings.ML_READ_TIMEOUT_SECONDS = 30
    url = serve()
    alice, bob = UserFactory(), UserFactory()
    alice_token, bob_token = login(url, alice), login(url, bob)
    alice_socket, bob_socket = listener(), listener()
    alice_socket.connect(url, auth={"token": alice_token})
    bob_socket.connect(url, auth={"token": bob_token}, transports=["websocket"])
    ticket = requests.post(
        f"{url}/api/v1/auth/ws-ticket",
        headers={"Authorization": f"Bearer {alice_token}"},
        timeout=RECEIVE_TIMEOUT,
    ).json()["data"]["url"]
    plain = PlainWebsocketListener(f"{url.replace('http', 'ws', 1)}{ticket}")

    try:
        media_id = upload(url, alice_token, media_file("clip.mp4"))
        final = final_media_update(alice_socket, media_id)
        wait_for(
            lambda: any(m.get("event") == "RUN_COMPLETED" for m in plain.messages),
            timeout=RECEIVE_TIMEOUT,
        )
    finally:
        plain.close()

    updates = alice_socket.events("progress_update")
    for update in updates:
        assert set(update) == PROGRESS_UPDATE_KEYS
        assert set(update["data"]) == PROGRESS_DATA_KEYS
        assert update["mediaId"] == media_id
    by_model: dict[str, list[str]] = {}
    for update in updates:
        by_model.setdefault(update["data"]["model_name"], []).append(update["event"])
    assert set(by_model) == {model.name for model in fake_inference.models}
    for model, names in by_model.items():
        expected_frames = FRAME_STEPS if model == siglip.name else 0
        assert names == [
            "ANALYSIS_STARTED",
            *["FRAME_ANALYSIS_PROGRESS"] * expected_frames,
            "ANALYSIS_COMPLETED",
        ], model
    frames = [u for u in updates if u["event"] == "FRAME_ANALYSIS_PROGRESS"]
    assert [(u["data"]["progress"], u["data"]["total"]) for u in frames] == [(1, 3), (2, 3), (3, 3)]
    assert frames[0]["message"] == "Processed window 1/3"

    # The media item as the API shows it, first queued, then processing, then analysed.
    statuses = [m["status"] for m in alice_socket.events("media_update") if m["id"] == media_id]
    assert statuses == ["QUEUED", "PROCESSING", "ANALYZED"]
    assert final == media_detail(url, alice_token, media_id)
    assert final["latestRun"]["verdict"] == "FAKE"
    assert "processing_error" not in alice_socket.kinds()

    # The plain websocket still gets every event, in its own format.
    plain_events = [m["event"] for m in plain.messages if m.get("type") == "event"]
    assert plain.messages[0]["type"] == "snapshot"
    assert plain_events.count("ANALYSIS_COMPLETED") == 3
    assert plain_events[-1] == "RUN_COMPLETED"

    # Bob, connected all along to the same server, saw none of it.
    time.sleep(NOTHING_TIMEOUT)
    assert bob_socket.events() == []


def test_a_run_whose_models_all_fail_ends_with_processing_error(
    fake_inference_factory, pipeline_worker, serve, listener, media_file
):
    fake_inference_factory(
        [
            FakeModel("SIGLIP-LSTM-V4", video=True, failure=Failure.ERROR_422),
            FakeModel("COLOR-CUES-LSTM-V1", video=True, failure=Failure.ERROR_422),
        ]
    )
    url = serve()
    user = UserFactory()
    token = login(url, user)
    socket_client = listener()
    socket_client.connect(url, auth={"token": token})

    media_id = upload(url, token, media_file("clip.mp4"))
    errors = wait_for(lambda: socket_client.events("processing_error"), timeout=RECEIVE_TIMEOUT)
    final = final_media_update(socket_client, media_id)

    assert errors == [{"mediaId": media_id, "error": errors[0]["error"]}]
    assert errors[0]["error"].startswith("Every model failed.")
    failed = [u for u in socket_client.events("progress_update") if u["event"] == "ANALYSIS_FAILED"]
    assert {u["data"]["model_name"] for u in failed} == {"SIGLIP-LSTM-V4", "COLOR-CUES-LSTM-V1"}
    assert all(u["data"]["error_message"] for u in failed)
    assert final["status"] == "FAILED"
    assert final == media_detail(url, token, media_id)


def test_only_this_sites_origin_may_open_a_socket(fake_inference, serve):
    url = serve()
    handshake = f"{url}/socket.io/?EIO=4&transport=polling"

    own = requests.get(handshake, headers={"Origin": url}, timeout=RECEIVE_TIMEOUT)
    foreign = requests.get(
        handshake, headers={"Origin": "https://evil.example"}, timeout=RECEIVE_TIMEOUT
    )

    assert own.status_code == 200
    assert own.headers["Access-Control-Allow-Origin"] == url
    assert foreign.status_code == 400
    assert "Access-Control-Allow-Origin" not in foreign.headers
