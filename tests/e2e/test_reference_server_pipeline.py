"""The whole backend against the bundled reference inference server, as `make run` wires them.

A real `python -m mlserver` process, a real Celery worker and the real upload API: the backend
must not be able to tell the reference server from the GPU one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from drishtiksha.runner import BASE_DIR
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.discovery import stats_cache_key
from media_analysis.models import Media
from tests.factories import UserFactory
from tests.fixtures.pipeline import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

API_KEY = "reference-e2e-key"
STARTUP_SECONDS = 30
ANALYSIS_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def reference_server(settings) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "MLSERVER_PORT": str(port),
        "MLSERVER_API_KEY": API_KEY,
        "MLSERVER_REDIS_URL": settings.REDIS_URL,
    }
    process = subprocess.Popen([sys.executable, "-m", "mlserver"], cwd=BASE_DIR, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("the reference server did not start") from None
                time.sleep(0.2)
        settings.ML_SERVER_URL = url
        settings.ML_SERVER_API_KEY = API_KEY
        cache.delete(stats_cache_key())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        cache.delete(stats_cache_key())


def _upload(client: APIClient, path) -> str:
    response = client.post(
        "/api/v1/media",
        {"media": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    return response.json()["data"]["id"]


def test_video_with_audio_runs_every_compatible_reference_detector(
    reference_server, pipeline_worker, media_file
):
    client = APIClient()
    client.force_authenticate(UserFactory())
    media_id = _upload(client, media_file("street.mp4", seconds=2, size="320x240"))

    wait_for(
        lambda: Media.objects.get(pk=media_id).status in RunStatus.final(),
        timeout=ANALYSIS_SECONDS,
    )

    detail = client.get(f"/api/v1/media/{media_id}").json()["data"]
    analyses = {a["modelName"]: a for a in detail["analyses"]}
    # Video detectors, plus the audio detector because the clip has an audio track; never the
    # image-only error-level analysis.
    assert set(analyses) == {
        "PROVENANCE-METADATA-V1",
        "FREQUENCY-SPECTRUM-V1",
        "TEMPORAL-CONSISTENCY-V1",
        "AUDIO-SPECTRUM-V1",
    }
    assert detail["status"] in {RunStatus.ANALYZED, RunStatus.PARTIALLY_ANALYZED}
    completed = [a for a in analyses.values() if a["status"] == AnalysisStatus.COMPLETED]
    assert len(completed) >= 3
    for analysis in completed:
        assert analysis["prediction"] in {"REAL", "FAKE"}
        assert 0 <= analysis["confidence"] <= 1
        assert analysis["processingTime"] > 0
        assert analysis["resultPayload"]["media_type"] in {"video", "audio"}
    temporal = analyses["TEMPORAL-CONSISTENCY-V1"]["resultPayload"]
    assert temporal["frame_predictions"], "the temporal detector reported no frames"
    assert detail["latestRun"]["verdict"] in {"FAKE", "REAL", "INCONCLUSIVE"}


def test_image_runs_the_image_detectors(reference_server, pipeline_worker, media_file):
    client = APIClient()
    client.force_authenticate(UserFactory())
    media_id = _upload(client, media_file("photo.jpg", size="256x192"))

    wait_for(
        lambda: Media.objects.get(pk=media_id).status in RunStatus.final(),
        timeout=ANALYSIS_SECONDS,
    )

    media = Media.objects.get(pk=media_id)
    assert media.media_type == MediaType.IMAGE
    names = set(media.latest_run.analyses.values_list("model_name", flat=True))
    assert names == {"PROVENANCE-METADATA-V1", "ELA-JPEG-V1", "FREQUENCY-SPECTRUM-V1"}
    failures = {
        a.model_name: a.error_message
        for a in media.latest_run.analyses.filter(status=AnalysisStatus.FAILED)
    }
    assert failures == {}


def test_a_png_gets_no_ela_and_no_metadata_is_no_evidence(
    reference_server, pipeline_worker, media_file
):
    client = APIClient()
    client.force_authenticate(UserFactory())
    media_id = _upload(client, media_file("drawing.png", size="256x192"))

    wait_for(
        lambda: Media.objects.get(pk=media_id).status in RunStatus.final(),
        timeout=ANALYSIS_SECONDS,
    )

    detail = client.get(f"/api/v1/media/{media_id}").json()["data"]
    analyses = {a["modelName"]: a for a in detail["analyses"]}
    # The reference server declares ELA for jpg/jpeg only: a PNG is never offered to it.
    assert set(analyses) == {"PROVENANCE-METADATA-V1", "FREQUENCY-SPECTRUM-V1"}
    assert detail["status"] == RunStatus.ANALYZED
    provenance = analyses["PROVENANCE-METADATA-V1"]
    assert provenance["status"] == AnalysisStatus.ABSTAINED
    assert provenance["abstainReason"].startswith("no provenance metadata found")
    assert (provenance["prediction"], provenance["confidence"]) == (None, None)
    spectrum = analyses["FREQUENCY-SPECTRUM-V1"]
    assert spectrum["status"] == AnalysisStatus.COMPLETED
    # The verdict comes from the one model that judged the file.
    latest = detail["latestRun"]
    expected = (
        spectrum["confidence"] if spectrum["prediction"] == "FAKE" else 1 - spectrum["confidence"]
    )
    assert latest["fakeScore"] == pytest.approx(expected)
