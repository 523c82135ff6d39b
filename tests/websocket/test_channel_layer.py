"""The project's channel layer: a group send in two Redis round trips, with channels_redis's rules.

Every member of the group gets the message once, a member whose channel is at capacity gets
nothing (and the others still do), and expired messages are dropped before a new one is added.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from drishtiksha.channel_layer import ProgressChannelLayer


def _layer(**config: Any) -> ProgressChannelLayer:
    """A layer on the real Redis with the project's settings and a prefix of its own."""
    base = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    base["prefix"] = f"test-layer-{uuid.uuid4().hex[:8]}"
    return ProgressChannelLayer(**{**base, **config})


async def _receive_or_none(layer: ProgressChannelLayer, channel: str) -> dict | None:
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout=1.0)
    except TimeoutError:
        return None


def test_the_project_layer_is_the_configured_one():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == (
        "drishtiksha.channel_layer.ProgressChannelLayer"
    )


def test_every_member_gets_the_message_once_across_processes_and_general_channels():
    async def scenario() -> list[list[dict | None]]:
        first_process, second_process = _layer(), _layer()
        # A second "process" on the same prefix, as another web server would be.
        second_process.prefix = first_process.prefix
        members = [
            (first_process, await first_process.new_channel()),
            (first_process, await first_process.new_channel()),
            (second_process, await second_process.new_channel()),
            (first_process, "test.general"),
        ]
        for _, channel in members:
            await first_process.group_add("watchers", channel)
        await second_process.group_send("watchers", {"type": "progress.event", "n": 1})
        return [
            [await _receive_or_none(layer, channel), await _receive_or_none(layer, channel)]
            for layer, channel in members
        ]

    for first, second in async_to_sync(scenario)():
        assert first == {"type": "progress.event", "n": 1}
        assert second is None


def test_a_member_at_capacity_gets_nothing_while_the_others_still_do():
    async def scenario() -> tuple[list[dict | None], list[dict | None]]:
        full_layer, other_layer = _layer(capacity=1), _layer(capacity=1)
        other_layer.prefix = full_layer.prefix
        full, other = await full_layer.new_channel(), await other_layer.new_channel()
        await full_layer.group_add("watchers", full)
        await full_layer.group_add("watchers", other)
        await full_layer.send(full, {"type": "earlier"})

        await full_layer.group_send("watchers", {"type": "progress.event"})

        return (
            [await _receive_or_none(full_layer, full), await _receive_or_none(full_layer, full)],
            [await _receive_or_none(other_layer, other)],
        )

    full_received, other_received = async_to_sync(scenario)()
    assert full_received == [{"type": "earlier"}, None]
    assert other_received == [{"type": "progress.event"}]


@pytest.mark.parametrize("age_seconds", [0, 120])
def test_expired_messages_are_dropped_before_the_new_one_is_added(age_seconds):
    """A message older than the expiry is removed by the send (the control, a fresh one, stays)."""

    async def scenario() -> list[dict | None]:
        layer = _layer(expiry=60)
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        connection = layer.connection(layer.consistent_hash(channel))
        key = layer.prefix + layer.non_local_name(channel)
        stale = layer.serialize({"type": "stale", "__asgi_channel__": [channel]})
        await connection.zadd(key, {stale: time.time() - age_seconds})

        await layer.group_send("watchers", {"type": "progress.event"})

        return [await _receive_or_none(layer, channel), await _receive_or_none(layer, channel)]

    received = async_to_sync(scenario)()
    if age_seconds > 60:
        assert received == [{"type": "progress.event"}, None]
    else:
        assert received == [{"type": "stale"}, {"type": "progress.event"}]
