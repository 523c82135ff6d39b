"""A burst of events for many listeners of one web process reaches every one of them.

All the websockets of one process read from a single Redis list of the channel layer, which
drops what arrives once it holds `capacity` messages. Fifty runs ending while two hundred
listeners had not yet read lost final events with the layer's default of 100.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import channel_layers

LISTENERS = 300


def test_events_for_hundreds_of_unread_listeners_of_one_process_are_all_kept():
    async def scenario() -> int:
        layer = channel_layers.make_backend("default")
        channels = [await layer.new_channel() for _ in range(LISTENERS)]
        # Events go to each user's own group, so each is a message of its own in the list.
        groups = [f"test-burst-{index}" for index in range(LISTENERS)]
        for group, channel in zip(groups, channels, strict=True):
            await layer.group_add(group, channel)
        try:
            # One final event each, all sent before any listener reads.
            for group in groups:
                await layer.group_send(group, {"type": "progress.event", "event": "RUN_COMPLETED"})
            received = 0
            for channel in channels:
                try:
                    await asyncio.wait_for(layer.receive(channel), timeout=5)
                except TimeoutError:
                    # Everything was in Redis before the first read: a miss is a drop.
                    break
                received += 1
            return received
        finally:
            for group, channel in zip(groups, channels, strict=True):
                await layer.group_discard(group, channel)

    assert async_to_sync(scenario)() == LISTENERS
