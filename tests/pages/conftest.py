"""Fixtures for the page tests: a browser-like client (CSRF enforced) logged in as a user, and
media with runs in every state, built straight from the factories."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict
from media_analysis.models import AnalysisRun, Media
from tests.factories import (
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    UserFactory,
    video_result_payload,
)
from tests.fixtures.pipeline import stored_media


@pytest.fixture(autouse=True)
def _pages_test_defaults(isolated_cache):
    """Fresh cache keys (the inference server's model list is cached) for every test."""


@pytest.fixture
def owner(db) -> User:
    return UserFactory()


@pytest.fixture
def browser(owner) -> Client:
    """A logged-in browser: CSRF tokens are checked as for a real one."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


@pytest.fixture
def inference_down(settings) -> None:
    """An inference server that refuses connections (nothing listens on port 9 of localhost)."""
    settings.ML_SERVER_URL = "http://127.0.0.1:9"


def csrf_token(client: Client, page: str) -> str:
    html = client.get(page).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def json_script(html: str, element_id: str) -> Any:
    """The value Django's `json_script` filter put on the page under `element_id`."""
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no json_script with id {element_id}"
    return json.loads(match[1])


def finished_run(
    media: Media,
    *,
    number: int = 1,
    models: tuple[tuple[str, str, float], ...] = (("SIGLIP-LSTM-V4", Prediction.FAKE, 0.9),),
    failed: tuple[str, ...] = (),
    payload: Callable[..., dict] = video_result_payload,
) -> AnalysisRun:
    """A settled run of `media`: one completed analysis per (model, prediction, confidence) and
    one failed analysis per name in `failed`; media points at it as its latest run."""
    status = RunStatus.PARTIALLY_ANALYZED if failed else RunStatus.ANALYZED
    run = AnalysisRunFactory(
        media=media,
        run_number=number,
        status=status,
        verdict=Verdict.FAKE,
        fake_score=0.72,
        agreement=0.5,
    )
    for name, prediction, confidence in models:
        DeepfakeAnalysisFactory(
            run=run,
            model_name=name,
            model_used=name,
            status=AnalysisStatus.COMPLETED,
            prediction=prediction,
            confidence=confidence,
            processing_time=12.5,
            media_type=media.media_type,
            result_payload=payload(prediction=prediction, confidence=confidence),
            attempts=1,
        )
    for name in failed:
        DeepfakeAnalysisFactory(
            run=run,
            model_name=name,
            status=AnalysisStatus.FAILED,
            error_message="Media could not be processed. Reason: no face found",
            error_details={"kind": "http", "status": 422, "correlation_id": "corr-1234"},
            attempts=2,
        )
    Media.objects.filter(pk=media.pk).update(latest_run=run, status=status)
    media.refresh_from_db()
    return run


@pytest.fixture
def video(owner) -> Media:
    return stored_media(
        owner=owner,
        original_filename="interview.mp4",
        description="Press conference, 12 May",
        metadata={
            "format": {"formatName": "mov,mp4,m4a", "duration": 125.4, "bitRate": 1_200_000},
            "video": {"codec": "h264", "width": 1280, "height": 720, "fps": 25.0},
            "audio": {"codec": "aac", "sampleRate": 44100, "channels": 2},
        },
        has_audio=True,
        media_type=MediaType.VIDEO,
    )
