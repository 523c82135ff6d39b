"""Narrowing the progress stream to one media item, by query string or by message."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from media_analysis.choices import RunStatus
from media_analysis.consumers import CloseCode
from media_analysis.events import ProgressEvent, event_publish
from tests.factories import AnalysisRunFactory, MediaFactory, UserFactory
from tests.websocket.conftest import NOTHING_TIMEOUT, RECEIVE_TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


def running(owner):
    media = MediaFactory(owner=owner, status=RunStatus.QUEUED)
    run = AnalysisRunFactory(media=media, status=RunStatus.QUEUED)
    return media, run


def started(run) -> dict:
    return event_publish(
        event=ProgressEvent.ANALYSIS_STARTED,
        user_id=run.media.owner_id,
        media_id=run.media_id,
        run_id=run.pk,
        model_name="SIGLIP-LSTM-V4",
    )


def test_media_in_the_query_string_narrows_snapshot_and_events(communicator):
    user = UserFactory()
    watched, watched_run = running(user)
    _, other_run = running(user)

    client = communicator(f"?media={watched.pk}", user=user)

    async def scenario():
        await client.connect(RECEIVE_TIMEOUT)
        snapshot = await client.receive_json_from(RECEIVE_TIMEOUT)
        started(other_run)
        quiet = await client.receive_nothing(NOTHING_TIMEOUT)
        started(watched_run)
        event = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return snapshot, quiet, event

    snapshot, quiet, event = async_to_sync(scenario)()

    assert snapshot["mediaId"] == str(watched.pk)
    assert [run["id"] for run in snapshot["runs"]] == [str(watched_run.pk)]
    assert quiet
    assert event["runId"] == str(watched_run.pk)


@pytest.mark.parametrize("whose", ["someone else's", "malformed"])
def test_narrowing_to_media_that_is_not_yours_is_refused(communicator, whose):
    user = UserFactory()
    media_id = MediaFactory().pk if whose == "someone else's" else "not-a-uuid"

    client = communicator(f"?media={media_id}", user=user)

    async def scenario():
        connected, _ = await client.connect(RECEIVE_TIMEOUT)
        message = await client.receive_output(RECEIVE_TIMEOUT)
        # As a server does after a close: tell the consumer the socket is gone, so it stops
        # instead of being cancelled mid-receive when the loop ends.
        await client.disconnect()
        return connected, message

    connected, message = async_to_sync(scenario)()

    assert connected
    assert message == {"type": "websocket.close", "code": CloseCode.MEDIA_NOT_FOUND}


def test_subscribe_and_unsubscribe_messages_change_the_narrowing(communicator):
    user = UserFactory()
    first, first_run = running(user)
    _, second_run = running(user)
    foreign = MediaFactory()

    client = communicator(user=user)

    async def scenario():
        await client.connect(RECEIVE_TIMEOUT)
        everything = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.send_json_to({"action": "subscribe", "mediaId": str(foreign.pk)})
        refused = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.send_json_to({"action": "subscribe", "mediaId": str(first.pk)})
        narrowed = await client.receive_json_from(RECEIVE_TIMEOUT)
        started(second_run)
        quiet = await client.receive_nothing(NOTHING_TIMEOUT)
        await client.send_json_to({"action": "unsubscribe"})
        widened = await client.receive_json_from(RECEIVE_TIMEOUT)
        started(second_run)
        event = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.send_to(text_data="{not json")
        garbage = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return everything, refused, narrowed, quiet, widened, event, garbage

    everything, refused, narrowed, quiet, widened, event, garbage = async_to_sync(scenario)()

    all_runs = {str(first_run.pk), str(second_run.pk)}
    assert {run["id"] for run in everything["runs"]} == all_runs
    assert refused["type"] == "error" and refused["code"] == "media_not_found"
    assert [run["id"] for run in narrowed["runs"]] == [str(first_run.pk)]
    assert quiet
    assert {run["id"] for run in widened["runs"]} == all_runs and widened["mediaId"] is None
    assert event["runId"] == str(second_run.pk)
    assert garbage == {"type": "error", "code": "unknown_action", "message": garbage["message"]}
