"""Progress events on a real Redis (127.0.0.1:6379), one unique channel per test."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from mlserver.app import create_app
from mlserver.config import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: publishing there fails at once.
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
DELIVERY_TIMEOUT_SECONDS = 5.0
QUIET_PERIOD_SECONDS = 0.3


@pytest.fixture
def channel() -> str:
    return f"test-media-progress-{uuid.uuid4().hex}"


@pytest.fixture
def subscription(channel: str) -> Iterator[redis.client.PubSub]:
    client = redis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    # Wait for the subscription to be active before anything is published.
    assert pubsub.get_message(timeout=DELIVERY_TIMEOUT_SECONDS) is None
    yield pubsub
    pubsub.close()
    client.close()


@pytest.fixture
def events_client(server_settings: Settings, channel: str) -> Iterator[TestClient]:
    settings = replace(server_settings, redis_url=REDIS_URL, progress_channel=channel)
    with TestClient(create_app(settings)) as client:
        yield client


def collect(pubsub: redis.client.PubSub, until: str | None = None) -> list[dict]:
    """Messages published so far; with ``until``, wait for that event (or time out)."""
    events: list[dict] = []
    timeout = DELIVERY_TIMEOUT_SECONDS if until else QUIET_PERIOD_SECONDS
    while message := pubsub.get_message(timeout=timeout):
        events.append(json.loads(message["data"]))
        if until and events[-1]["event"] == until:
            break
    return events


def post(client: TestClient, auth: dict, path: Path, **fields: str):
    with path.open("rb") as handle:
        return client.post(
            "/analyze", headers=auth, files={"media": (path.name, handle)}, data=fields
        )


def test_video_analysis_publishes_progress_then_completion(
    events_client: TestClient, auth, subscription, smooth_video: Path, contract
) -> None:
    response = post(
        events_client,
        auth,
        smooth_video,
        model="TEMPORAL-CONSISTENCY-V1",
        mediaId="media-42",
        userId="user-7",
    )
    assert response.status_code == 200, response.text
    events = collect(subscription, until="ANALYSIS_COMPLETE")

    for event in events:
        # Only progress events carry counts; the others send null progress and total.
        if event["event"] == "FRAME_ANALYSIS_PROGRESS":
            contract.check(event, contract.event)
        assert set(event) == set(contract.event)
        assert set(event["data"]) == set(contract.event["data"])
        assert event["media_id"] == "media-42" and event["user_id"] == "user-7"
        assert event["data"]["model_name"] == "TEMPORAL-CONSISTENCY-V1"
    names = [event["event"] for event in events]
    assert names[-1] == "ANALYSIS_COMPLETE"
    progress = [event["data"] for event in events if event["event"] == "FRAME_ANALYSIS_PROGRESS"]
    assert len(progress) >= 2
    assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
    assert all(0 < p["progress"] <= p["total"] for p in progress)
    completion = events[-1]["data"]["details"]
    assert completion["prediction"] == response.json()["data"]["prediction"]
    assert completion["confidence"] == response.json()["data"]["confidence"]


def test_audio_track_analysis_publishes_extraction_and_spectrogram_events(
    events_client: TestClient, auth, subscription, smooth_video: Path
) -> None:
    response = post(
        events_client, auth, smooth_video, model="AUDIO-SPECTRUM-V1", mediaId="m", userId="u"
    )
    assert response.status_code == 200, response.text
    names = [event["event"] for event in collect(subscription, until="ANALYSIS_COMPLETE")]
    assert names == [
        "AUDIO_EXTRACTION_START",
        "AUDIO_EXTRACTION_COMPLETE",
        "SPECTROGRAM_GENERATION_START",
        "SPECTROGRAM_GENERATION_COMPLETE",
        "ANALYSIS_COMPLETE",
    ]


def test_unprocessable_media_publishes_analysis_failed(
    events_client: TestClient, auth, subscription, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    # An MP4 signature, so the file is a damaged MP4 rather than no container at all (415).
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41" + b"not a video" * 32)
    response = post(
        events_client, auth, broken, model="TEMPORAL-CONSISTENCY-V1", mediaId="m", userId="u"
    )
    assert response.status_code == 422
    (event,) = collect(subscription, until="ANALYSIS_FAILED")
    assert event["event"] == "ANALYSIS_FAILED"
    assert event["data"]["details"]["error"] in response.json()["detail"]["message"]


def test_no_events_without_both_media_and_user_ids(
    events_client: TestClient, auth, subscription, smooth_video: Path
) -> None:
    only_media = post(
        events_client, auth, smooth_video, model="TEMPORAL-CONSISTENCY-V1", mediaId="m"
    )
    assert only_media.status_code == 200
    assert collect(subscription) == []


def test_unreachable_redis_never_fails_the_analysis(
    server_settings: Settings, auth, smooth_video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(server_settings, redis_url=UNREACHABLE_REDIS_URL)
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.WARNING):
        response = post(
            client, auth, smooth_video, model="TEMPORAL-CONSISTENCY-V1", mediaId="m", userId="u"
        )
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    failures = [r for r in caplog.records if "could not be published" in r.getMessage()]
    assert len(failures) == 1, "the reporter should stop after the first failure"
