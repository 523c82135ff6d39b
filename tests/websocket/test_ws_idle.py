"""A connection that waits quietly longer than the layer's blocking pop must keep working."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from tests.factories import UserFactory
from tests.websocket.conftest import RECEIVE_TIMEOUT
from tests.websocket.test_ws_progress import active_run, publish

pytestmark = pytest.mark.django_db(transaction=True)

# channels-redis blocks up to 5 s waiting for a message; stay idle past it, then some.
IDLE_SECONDS = 7


def test_an_idle_connection_still_receives_events_after_the_blocking_pop_times_out(communicator):
    assert settings.CHANNEL_LAYER_SOCKET_TIMEOUT > IDLE_SECONDS
    user = UserFactory()
    media, run = active_run(user)
    client = communicator(user=user)

    async def scenario():
        connected, _ = await client.connect(RECEIVE_TIMEOUT)
        await client.receive_json_from(RECEIVE_TIMEOUT)  # the snapshot
        await asyncio.sleep(IDLE_SECONDS)
        await sync_to_async(publish)(run)
        event = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return connected, event

    connected, event = async_to_sync(scenario)()

    assert connected
    assert event["type"] == "event" and event["runId"] == str(run.pk)
