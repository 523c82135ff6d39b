"""Live progress for the single-page app over Socket.IO (Engine.IO v4 at `/socket.io/`).

The React app of the Node version connects with `io(BACKEND_URL, {auth: {token: <JWT>}})` and
listens for three events (the contract is in the legacy-clients document):

- `progress_update` `{mediaId, event, message, data: {model_name, progress, total,
  error_message}}` for ANALYSIS_STARTED, FRAME_ANALYSIS_PROGRESS, ANALYSIS_COMPLETED and
  ANALYSIS_FAILED;
- `media_update`: the whole media item, exactly as `GET /api/v1/media/:id` answers it in `data`,
  when its status changes (a run is queued, starts or finishes);
- `processing_error` `{mediaId, error}` when a run fails as a whole.

There is no second event pipeline behind it. The app's events are translated from the same
per-user Channels group the plain progress websocket (`consumers.ProgressConsumer`) listens to, so
everything that reaches `/ws/progress/` reaches Socket.IO too, and nothing that is not the user's
can. Per process and per user one channel of the channel layer joins the user's group while at
least one of that user's sockets is connected here (`UserFeed`); its events are emitted to the
user's Socket.IO room, i.e. to every socket of that user in this process. Each web process has its
own feeds, so several processes behind a load balancer need no Socket.IO message queue of their
own: every one of them hears the group and serves its own sockets.

Authentication is the API's: the token is a simplejwt access token and is checked by the very
`JWTAuthentication` the API uses for `Authorization: Bearer` (expiry, signature, revocation by a
password change, deactivated accounts). A connection without a usable token is refused with a
reason the client receives in `connect_error`.

Cross-origin: the app is served from its own origin, so Socket.IO answers browsers from this
site's own origin and from `CORS_ALLOWED_ORIGINS`, and refuses every other `Origin`, for the
polling transport and the websocket alike. Programs that send no `Origin` still need a token.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from typing import Any

import socketio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.utils.encoders import JSONEncoder
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.models import User
from drishtiksha.errors import NotFound
from drishtiksha.ws_origin import Origin, own_origin, parse_origin
from media_analysis.api.serializers import MediaDetailSerializer
from media_analysis.choices import RunStatus
from media_analysis.events import MESSAGE_TYPE, ProgressEvent, user_group_name
from media_analysis.selectors import media_get_for_user

logger = logging.getLogger(__name__)

SOCKETIO_PATH = "socket.io"
NAMESPACE = "/"

PROGRESS_UPDATE = "progress_update"
MEDIA_UPDATE = "media_update"
PROCESSING_ERROR = "processing_error"

# The project's events that the app knows as `progress_update` (same names in both systems).
PROGRESS_UPDATE_EVENTS = frozenset(
    {
        ProgressEvent.ANALYSIS_STARTED,
        ProgressEvent.FRAME_ANALYSIS_PROGRESS,
        ProgressEvent.ANALYSIS_COMPLETED,
        ProgressEvent.ANALYSIS_FAILED,
    }
)
# A run's events that change its media item's status: the first ANALYSIS_QUEUED (the media is
# QUEUED) and the first ANALYSIS_STARTED (PROCESSING). RUN_COMPLETED always does.
STATUS_CHANGING_EVENTS = (ProgressEvent.ANALYSIS_QUEUED, ProgressEvent.ANALYSIS_STARTED)

NOT_AUTHENTICATED_REASON = "Not authenticated: connect with auth {token: <access token>}."
UNUSABLE_CREDENTIALS_REASON = "The token is invalid or expired; log in again."
INACTIVE_REASON = "This account is deactivated."
UNAVAILABLE_REASON = "Live progress is unavailable right now; try again shortly."
RUN_FAILED_FALLBACK = "The analysis failed."

# The HTTP scheme of a handshake as a websocket scheme, for `ws_origin.own_origin`, and back.
_WEBSOCKET_SCHEME_OF = {"http": "ws", "https": "wss"}
_HTTP_SCHEME_OF = {"ws": "http", "wss": "https"}


def user_room(user_id: uuid.UUID | str) -> str:
    """The Socket.IO room of one user's sockets."""
    return f"user:{user_id}"


# --- Who may connect --------------------------------------------------------------------------


def _configured_origins() -> set[Origin]:
    # Read per handshake: the list is a setting, and tests change settings.
    configured = getattr(settings, "CORS_ALLOWED_ORIGINS", []) or []
    return {origin for origin in map(parse_origin, configured) if origin is not None}


def _scope_own_origin(scope: dict[str, Any]) -> Origin | None:
    scheme = scope.get("scheme") or "http"
    return own_origin({**scope, "scheme": _WEBSOCKET_SCHEME_OF.get(scheme, scheme)})


def origin_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
    """Engine.IO's origin check: this site's own origin (decided as for Django's HTTP requests,
    see `ws_origin.own_origin`) or one of `CORS_ALLOWED_ORIGINS`; never any origin at all."""
    parsed = parse_origin(origin) if origin else None
    if parsed is None:  # "null" (sandboxed frames, file://) and anything malformed
        return False
    if parsed in _configured_origins():
        return True
    return parsed == _scope_own_origin(environ.get("asgi.scope") or {})


def user_for_access_token(token: str) -> User:
    """The active user of a valid access token, checked as the API checks a bearer token.

    Raises `AuthenticationFailed` (simplejwt's `InvalidToken` is one) otherwise.
    """
    authentication = JWTAuthentication()
    return authentication.get_user(authentication.get_validated_token(token.encode()))


def handshake_request(scope: dict[str, Any]) -> HttpRequest | None:
    """The handshake as the HTTP request Django would build from it, for the absolute `url` and
    `thumbnailUrl` of `media_update` (built as the API builds them); None for a Host that is not
    in ALLOWED_HOSTS, which then get paths instead."""
    scheme = scope.get("scheme") or "http"
    request = ASGIRequest(
        {**scope, "type": "http", "method": "GET", "scheme": _HTTP_SCHEME_OF.get(scheme, scheme)},
        io.BytesIO(),
    )
    try:
        request.get_host()
    except DisallowedHost:
        return None
    return request


def _refusal_reason(error: AuthenticationFailed) -> str:
    # simplejwt puts its own code ("user_inactive", "token_not_valid", ...) inside the detail.
    detail = error.detail if isinstance(error.detail, dict) else {}
    if str(detail.get("code")) == "user_inactive":
        return INACTIVE_REASON
    return UNUSABLE_CREDENTIALS_REASON


# --- What the app receives ----------------------------------------------------------------------


def _progress_message(name: str, model: str, data: dict[str, Any]) -> str:
    if name == ProgressEvent.FRAME_ANALYSIS_PROGRESS:
        if data.get("message"):
            return str(data["message"])
        return f"{model}: {data.get('progress')} of {data.get('total') or '?'}"
    if name == ProgressEvent.ANALYSIS_STARTED:
        return f"{model} started its analysis."
    if name == ProgressEvent.ANALYSIS_COMPLETED:
        if data.get("abstainReason"):
            return f"{model} found no evidence: {data['abstainReason']}"
        return f"{model} finished its analysis."
    return f"{model} failed: {data.get('error') or 'unknown error'}"


def progress_update_payload(event: dict[str, Any]) -> dict[str, Any]:
    """A model-level event of `events.py` as the app's `progress_update`."""
    name = event["event"]
    model = event.get("modelName") or ""
    data = event.get("data") or {}
    return {
        "mediaId": event.get("mediaId"),
        "event": name,
        "message": _progress_message(name, model, data),
        "data": {
            "model_name": model,
            "progress": data.get("progress"),
            "total": data.get("total"),
            "error_message": data.get("error") if name == ProgressEvent.ANALYSIS_FAILED else None,
        },
    }


def media_detail_payload(
    *, user: User, media_id: uuid.UUID | str, request: HttpRequest | None
) -> dict[str, Any] | None:
    """The media item as `GET /api/v1/media/:id` answers it in `data`; None once it is gone.

    Encoded and decoded with the API's JSON encoder, so every value reads exactly as over HTTP.
    """
    try:
        media = media_get_for_user(user=user, media_id=media_id)
    except NotFound:
        return None
    data = MediaDetailSerializer(media, context={"request": request}).data
    return json.loads(json.dumps(data, cls=JSONEncoder))


# --- Feeding the rooms from the user's group ---------------------------------------------------


class UserFeed:
    """One channel in one user's Channels group, emitting what it hears to the user's room.

    Lives while at least one socket of the user is connected to this process (`sids`). Redis going
    away does not end it: it waits (RELAY_RECONNECT_DELAY_SECONDS, doubling up to
    RELAY_RECONNECT_DELAY_MAX_SECONDS, as the progress relay does) and joins the group again.
    """

    def __init__(
        self, *, server: socketio.AsyncServer, user: User, request: HttpRequest | None
    ) -> None:
        self.server = server
        self.user = user
        # The first socket's handshake: links in media_update are made absolute against it (one
        # emit serves every socket of the user, and they all reach this process the same way).
        self.request = request
        self.room = user_room(user.pk)
        self.group = user_group_name(user.pk)
        self.sids: set[str] = set()
        # Which status-changing event each open run has already been announced for, so that the
        # N models of a run starting cost one media_update, not N.
        self._announced: dict[str, str] = {}
        self._subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"socketio-feed-{user.pk}")

    async def subscribed(self) -> None:
        """Return once the channel is in the group; raise if it could not join."""
        await asyncio.shield(self._subscribed)

    def stop(self) -> None:
        # Not awaited: leaving the group is the task's own last step, and a disconnecting socket
        # need not wait on Redis for it.
        self._task.cancel()

    async def _run(self) -> None:
        layer = get_channel_layer()
        delay = settings.RELAY_RECONNECT_DELAY_SECONDS
        channel = ""
        try:
            while True:
                try:
                    channel = channel or await layer.new_channel()
                    await layer.group_add(self.group, channel)
                    if not self._subscribed.done():
                        self._subscribed.set_result(None)
                    delay = settings.RELAY_RECONNECT_DELAY_SECONDS
                    while True:
                        message = await layer.receive(channel)
                        await self._forward_safely(message)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - Redis trouble; the feed carries on
                    if not self._subscribed.done():
                        self._subscribed.set_exception(exc)
                        return
                    logger.warning(
                        "socket.io feed of user %s lost Redis (%s); rejoining in %.1f s",
                        self.user.pk,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, settings.RELAY_RECONNECT_DELAY_MAX_SECONDS)
        finally:
            if channel:
                try:
                    await layer.group_discard(self.group, channel)
                except Exception:  # noqa: BLE001 - the membership expires on its own
                    logger.info("could not leave %s", self.group, exc_info=True)

    async def _forward_safely(self, message: dict[str, Any]) -> None:
        # One odd event must not end the feed for every socket of the user.
        try:
            if message.get("type") == MESSAGE_TYPE and isinstance(message.get("event"), dict):
                await self.forward(message["event"])
        except Exception:  # noqa: BLE001 - logged, then on to the next event
            logger.exception("socket.io feed of user %s: could not forward an event", self.user.pk)

    async def forward(self, event: dict[str, Any]) -> None:
        """Emit what one progress event of `events.py` means to the app."""
        name = event.get("event")
        media_id = event.get("mediaId")
        run_id = str(event.get("runId"))
        data = event.get("data") or {}
        if name in PROGRESS_UPDATE_EVENTS:
            await self._emit(PROGRESS_UPDATE, progress_update_payload(event))
        if name in STATUS_CHANGING_EVENTS and self._announced.get(run_id) != name:
            self._announced[run_id] = name
            await self._emit_media(media_id)
        elif name == ProgressEvent.RUN_COMPLETED:
            self._announced.pop(run_id, None)
            await self._emit_media(media_id)
            if data.get("status") == RunStatus.FAILED:
                error = data.get("errorMessage") or RUN_FAILED_FALLBACK
                await self._emit(PROCESSING_ERROR, {"mediaId": media_id, "error": error})

    async def _emit_media(self, media_id: str | None) -> None:
        if not media_id:
            return
        media = await database_sync_to_async(media_detail_payload)(
            user=self.user, media_id=media_id, request=self.request
        )
        if media is not None:
            await self._emit(MEDIA_UPDATE, media)

    async def _emit(self, name: str, payload: dict[str, Any]) -> None:
        await self.server.emit(name, payload, room=self.room, namespace=NAMESPACE)


class ProgressNamespace(socketio.AsyncNamespace):
    """The default namespace: authenticate, join the user's room, keep the user's feed."""

    def __init__(self, namespace: str = NAMESPACE) -> None:
        super().__init__(namespace)
        self.feeds: dict[uuid.UUID, UserFeed] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise socketio.exceptions.ConnectionRefusedError(NOT_AUTHENTICATED_REASON)
        try:
            user = await database_sync_to_async(user_for_access_token)(token)
        except AuthenticationFailed as exc:
            raise socketio.exceptions.ConnectionRefusedError(_refusal_reason(exc)) from exc
        await self.save_session(sid, {"user_id": user.pk})
        await self.enter_room(sid, user_room(user.pk))
        # Registered before the first await on it, so that a second socket of the same user
        # connecting meanwhile shares this feed instead of starting another.
        feed = self.feeds.get(user.pk)
        if feed is None:
            feed = self.feeds[user.pk] = UserFeed(
                server=self.server,
                user=user,
                request=handshake_request(environ.get("asgi.scope") or {}),
            )
        feed.sids.add(sid)
        try:
            await feed.subscribed()
        except Exception as exc:
            logger.warning("socket.io: could not subscribe user %s: %s", user.pk, exc)
            self._release(user.pk, sid)
            raise socketio.exceptions.ConnectionRefusedError(UNAVAILABLE_REASON) from exc

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        session = await self.get_session(sid)
        if session.get("user_id") is not None:
            self._release(session["user_id"], sid)

    def _release(self, user_id: uuid.UUID, sid: str) -> None:
        feed = self.feeds.get(user_id)
        if feed is None:
            return
        feed.sids.discard(sid)
        if not feed.sids:
            del self.feeds[user_id]
            feed.stop()


def socketio_server() -> socketio.AsyncServer:
    server = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=origin_allowed)
    server.register_namespace(ProgressNamespace())
    return server


def socketio_application(*, other_asgi_app: Any) -> socketio.ASGIApp:
    """`/socket.io/` (HTTP long-polling and websocket) to Socket.IO, everything else to
    `other_asgi_app`."""
    return socketio.ASGIApp(
        socketio_server(), other_asgi_app=other_asgi_app, socketio_path=SOCKETIO_PATH
    )
