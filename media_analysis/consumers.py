"""The progress websocket (`/ws/progress/`): one user's analysis progress, live.

Protocol (JSON text frames):

- On connect the server sends `{"type": "snapshot", "runs": [...]}`: the user's queued and running
  runs with per-model status and progress (see `presenters.progress_snapshot_to_dict`). Every
  reconnect starts with a fresh one, so a client never has to replay missed events.
- Then every progress event of the user's runs as `{"type": "event", "event": "ANALYSIS_STARTED",
  "mediaId", "runId", "modelName", "timestamp", "sequence", "data"}` (see `events.py`).
- A client narrows the stream to one media item with `?media=<uuid>` or by sending
  `{"action": "subscribe", "mediaId": "<uuid>"}` (answered with a new snapshot);
  `{"action": "unsubscribe"}` widens it again. Someone else's media is refused.

Authentication: the browser's session cookie, or `?ticket=` with a one-time ticket from
`POST /api/v1/auth/ws-ticket` for API clients. Foreign origins are refused before this consumer
runs; a handshake without `Origin` (a program, not a browser) is let through only with a ticket
(`drishtiksha.ws_origin`).

The stream is lossy by design (events are best effort): the snapshot and the database are the
truth, and clients order events by `sequence` per run and model.
"""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User
from accounts.ws_tickets import ws_ticket_consume
from media_analysis.events import run_sequences_current, user_group_name
from media_analysis.presenters import progress_snapshot_to_dict
from media_analysis.selectors import (
    media_id_for_user,
    run_ids_active_for_user,
    runs_active_for_user,
)


class CloseCode(enum.IntEnum):
    """Application close codes (4000-4999), modelled on the HTTP status they stand for."""

    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    MEDIA_NOT_FOUND = 4404


def _snapshot(*, user: User, media_id: uuid.UUID | None) -> dict[str, Any]:
    # Sequence numbers are read between the ids and the rows: see `run_sequences_current`.
    sequences = run_sequences_current(run_ids=run_ids_active_for_user(user=user))
    runs = runs_active_for_user(user=user)
    if media_id is not None:
        runs = [run for run in runs if run.media_id == media_id]
    return progress_snapshot_to_dict(runs=runs, sequences=sequences)


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    user: User | None = None
    media_filter: uuid.UUID | None = None

    async def connect(self) -> None:
        user = await self._authenticate()
        # Accept before refusing: a close during the handshake reaches the client as a bare HTTP
        # 403, and it could not tell "log in again" from "this is not yours".
        await self.accept()
        if user is None:
            await self.close(code=CloseCode.UNAUTHENTICATED)
            return
        if not user.is_active:
            await self.close(code=CloseCode.FORBIDDEN)
            return
        requested = self._query_param("media")
        if requested:
            media_id = await database_sync_to_async(media_id_for_user)(
                user=user, media_id=requested
            )
            if media_id is None:
                await self.close(code=CloseCode.MEDIA_NOT_FOUND)
                return
            self.media_filter = media_id
        self.user = user
        # Join first, then read the snapshot: an event published in between is delivered after
        # the snapshot (messages wait while this handler runs) and the client sorts it out.
        await self.channel_layer.group_add(user_group_name(user.pk), self.channel_name)
        await self._send_snapshot()

    async def disconnect(self, code: int) -> None:
        if self.user is not None:
            await self.channel_layer.group_discard(user_group_name(self.user.pk), self.channel_name)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.user is None:
            return
        action = content.get("action") if isinstance(content, dict) else None
        if action == "subscribe":
            media_id = await database_sync_to_async(media_id_for_user)(
                user=self.user, media_id=str(content.get("mediaId") or "")
            )
            if media_id is None:
                await self._send_error("media_not_found", "Media not found.")
                return
            self.media_filter = media_id
            await self._send_snapshot()
        elif action == "unsubscribe":
            self.media_filter = None
            await self._send_snapshot()
        else:
            await self._send_error(
                "unknown_action", 'Send {"action": "subscribe", "mediaId": ...} or "unsubscribe".'
            )

    async def progress_event(self, message: dict[str, Any]) -> None:
        """A `progress.event` from the user's group (see `events.event_publish`)."""
        event = message.get("event") or {}
        if self.media_filter is not None and event.get("mediaId") != str(self.media_filter):
            return
        await self.send_json({"type": "event", **event})

    async def _send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(_snapshot)(
            user=self.user, media_id=self.media_filter
        )
        snapshot["mediaId"] = str(self.media_filter) if self.media_filter else None
        await self.send_json(snapshot)

    async def _send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    def _query_param(self, name: str) -> str:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get(name) or [""]
        return values[0].strip()

    async def _authenticate(self) -> User | None:
        """The ticket's user when a ticket is given (spent either way), else the session's."""
        ticket = self._query_param("ticket")
        if ticket:
            return await database_sync_to_async(ws_ticket_consume)(ticket=ticket)
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None
