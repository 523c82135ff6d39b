"""The progress websocket: snapshot first, then only the user's own events, optionally narrowed."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.events import ProgressEvent, event_publish
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, MediaFactory, UserFactory
from tests.websocket.conftest import NOTHING_TIMEOUT, RECEIVE_TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


def active_run(owner, *, progress: int = 3, total: int = 10):
    media = MediaFactory(owner=owner, status=RunStatus.PROCESSING)
    run = AnalysisRunFactory(media=media, run_number=1, status=RunStatus.PROCESSING)
    media.latest_run = run
    media.save(update_fields=["latest_run"])
    DeepfakeAnalysisFactory(
        run=run,
        model_name="SIGLIP-LSTM-V4",
        status=AnalysisStatus.PROCESSING,
        progress=progress,
        total=total,
    )
    DeepfakeAnalysisFactory(run=run, model_name="COLOR-CUES-LSTM-V1")
    return media, run


def publish(run, *, event=ProgressEvent.ANALYSIS_STARTED, model="SIGLIP-LSTM-V4", **data):
    sent = event_publish(
        event=event,
        user_id=run.media.owner_id,
        media_id=run.media_id,
        run_id=run.pk,
        model_name=model,
        data=data,
    )
    assert sent is not None
    return sent


def test_snapshot_lists_active_runs_with_per_model_progress(communicator):
    user = UserFactory()
    media, run = active_run(user, progress=3, total=10)
    finished = MediaFactory(owner=user, status=RunStatus.ANALYZED)
    AnalysisRunFactory(media=finished, status=RunStatus.ANALYZED)

    client = communicator(user=user)

    async def scenario():
        connected, _ = await client.connect(RECEIVE_TIMEOUT)
        snapshot = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return connected, snapshot

    connected, snapshot = async_to_sync(scenario)()

    assert connected
    assert snapshot["type"] == "snapshot"
    assert [r["id"] for r in snapshot["runs"]] == [str(run.pk)]
    only = snapshot["runs"][0]
    assert only["mediaId"] == str(media.pk)
    assert only["media"]["filename"] == media.original_filename
    progress = {a["modelName"]: (a["status"], a["progress"], a["total"]) for a in only["analyses"]}
    assert progress == {
        "SIGLIP-LSTM-V4": ("PROCESSING", 3, 10),
        "COLOR-CUES-LSTM-V1": ("PENDING", 0, None),
    }


def test_events_follow_the_snapshot_and_carry_the_publisher_fields(communicator):
    user = UserFactory()
    _, run = active_run(user)

    client = communicator(user=user)

    async def scenario():
        await client.connect(RECEIVE_TIMEOUT)
        await client.receive_json_from(RECEIVE_TIMEOUT)
        sent = publish(run, event=ProgressEvent.FRAME_ANALYSIS_PROGRESS, progress=4, total=10)
        received = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return sent, received

    sent, received = async_to_sync(scenario)()

    assert received == {"type": "event", **sent}
    assert received["event"] == "FRAME_ANALYSIS_PROGRESS"
    assert received["data"] == {"progress": 4, "total": 10}


def test_a_user_never_receives_another_users_events(communicator):
    alice, bob = UserFactory(), UserFactory()
    _, alice_run = active_run(alice)
    _, bob_run = active_run(bob)

    alice_client, bob_client = communicator(user=alice), communicator(user=bob)

    async def scenario():
        await alice_client.connect(RECEIVE_TIMEOUT)
        await bob_client.connect(RECEIVE_TIMEOUT)
        alice_snapshot = await alice_client.receive_json_from(RECEIVE_TIMEOUT)
        await bob_client.receive_json_from(RECEIVE_TIMEOUT)
        publish(bob_run)
        bob_event = await bob_client.receive_json_from(RECEIVE_TIMEOUT)
        alice_got_nothing = await alice_client.receive_nothing(NOTHING_TIMEOUT)
        publish(alice_run)
        alice_event = await alice_client.receive_json_from(RECEIVE_TIMEOUT)
        bob_got_nothing = await bob_client.receive_nothing(NOTHING_TIMEOUT)
        await alice_client.disconnect()
        await bob_client.disconnect()
        return alice_snapshot, bob_event, alice_got_nothing, alice_event, bob_got_nothing

    alice_snapshot, bob_event, alice_quiet, alice_event, bob_quiet = async_to_sync(scenario)()

    assert [r["id"] for r in alice_snapshot["runs"]] == [str(alice_run.pk)]
    assert bob_event["runId"] == str(bob_run.pk)
    assert alice_event["runId"] == str(alice_run.pk)
    assert alice_quiet and bob_quiet


def test_a_reconnecting_client_starts_again_from_a_fresh_snapshot(communicator):
    user = UserFactory()
    _, run = active_run(user, progress=3, total=10)

    def connect_and_read_snapshot():
        return async_to_sync(read_snapshot)(communicator(user=user))

    async def read_snapshot(client):
        await client.connect(RECEIVE_TIMEOUT)
        snapshot = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return snapshot

    first = connect_and_read_snapshot()
    # While the client is away a model advances and an event is sent that it never sees.
    run.analyses.filter(model_name="SIGLIP-LSTM-V4").update(progress=9)
    missed = publish(run, event=ProgressEvent.FRAME_ANALYSIS_PROGRESS, progress=9, total=10)
    second = connect_and_read_snapshot()

    def siglip(snapshot):
        analyses = snapshot["runs"][0]["analyses"]
        return next(a for a in analyses if a["modelName"] == "SIGLIP-LSTM-V4")

    assert siglip(first)["progress"] == 3
    assert siglip(second)["progress"] == 9
    # The snapshot says which events it already contains, so the missed one is known to be stale.
    assert second["runs"][0]["sequence"] >= missed["sequence"] > first["runs"][0]["sequence"]


def test_finished_runs_leave_the_snapshot(communicator):
    user = UserFactory()
    _, run = active_run(user)
    run.status = RunStatus.ANALYZED
    run.save(update_fields=["status"])

    client = communicator(user=user)

    async def scenario():
        await client.connect(RECEIVE_TIMEOUT)
        snapshot = await client.receive_json_from(RECEIVE_TIMEOUT)
        await client.disconnect()
        return snapshot

    assert async_to_sync(scenario)()["runs"] == []
