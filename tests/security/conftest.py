"""Fixtures for the hostile-input suites: real media made once per session, clean-state checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import UUIDConverter
from rest_framework.test import APIClient

from media_analysis.choices import RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.services.prepare import REFUSED_PREFIX
from tests.factories import UserFactory
from tests.fixtures.media_files import make_audio, make_image, make_video, stored_files
from tests.fixtures.pipeline import upload_dispatched
from tests.websocket.conftest import communicator  # noqa: F401 - the websocket tests' fixture


@pytest.fixture(scope="session")
def sample_media(tmp_path_factory) -> dict[str, bytes]:
    """The bytes of a real clip, image and sound, generated once: ffmpeg is the slow part."""
    folder = tmp_path_factory.mktemp("security-samples")
    return {
        "mp4": make_video(folder / "clip.mp4").read_bytes(),
        "png": make_image(folder / "still.png").read_bytes(),
        "jpg": make_image(folder / "still.jpg").read_bytes(),
        "wav": make_audio(folder / "tone.wav").read_bytes(),
        "mp3": make_audio(folder / "tone.mp3").read_bytes(),
    }


@pytest.fixture
def uploader(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory())
    return client


def assert_nothing_left(settings, upload_temp_dir: Path) -> None:
    """A refused request keeps no row, no stored file and no temporary file."""
    assert Media.objects.count() == 0
    assert AnalysisRun.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []
    assert list(upload_temp_dir.iterdir()) == []


def refused_upload(client, response, fake_inference) -> Media:
    """An upload the probe refuses: answered 202 and QUEUED with no analysis; once dispatched,
    its run FAILED with the reason, no analysis, no model called, nothing probed kept, and the
    API shows the run FAILED with that reason. Returns the media."""
    assert response.status_code == 202, response.content
    answer = response.json()["data"]
    assert answer["status"] == RunStatus.QUEUED and answer["latestRun"]["analyses"] == []
    media = upload_dispatched(answer["id"])
    run = media.latest_run
    assert run.status == RunStatus.FAILED and media.status == RunStatus.FAILED
    assert run.error_message.startswith(REFUSED_PREFIX), run.error_message
    assert not DeepfakeAnalysis.objects.filter(run__media=media).exists()
    assert fake_inference.analyze_requests() == []
    assert media.prepared_at is None and media.metadata == {} and not media.thumbnail
    shown = client.get(f"/api/v1/media/{media.pk}")
    assert shown.status_code == 200, shown.content
    assert "Traceback" not in shown.content.decode()
    data = shown.json()["data"]
    assert data["status"] == RunStatus.FAILED
    assert data["latestRun"]["errorMessage"] == run.error_message
    return media


def assert_refused_before_any_model(
    client, response, settings, upload_temp_dir: Path, fake_inference
) -> str:
    """`refused_upload`, the only upload of the test: the file stays (the user sees why it was
    refused, and may delete it), nothing else does. Returns the reason."""
    media = refused_upload(client, response, fake_inference)
    assert stored_files(settings.MEDIA_ROOT) == [media.file.name]
    assert list(upload_temp_dir.iterdir()) == []
    return media.latest_run.error_message.removeprefix(REFUSED_PREFIX)


def assert_only_this_upload_kept(settings, upload_temp_dir: Path, media_id: str) -> Media:
    """An accepted upload keeps one row and its files at `<folder>/<uuid>.<ext>`, nothing else."""
    media = Media.objects.get()
    assert str(media.pk) == media_id
    assert AnalysisRun.objects.filter(media=media).count() == 1
    expected = [media.file.name] + ([media.thumbnail.name] if media.thumbnail else [])
    assert stored_files(settings.MEDIA_ROOT) == sorted(expected)
    folder, _, basename = media.file.name.partition("/")
    assert folder in {"videos", "images", "audio"}
    assert basename.rsplit(".", 1)[0] == media_id
    assert list(upload_temp_dir.iterdir()) == []
    return media


def uuid_routes() -> list[str]:
    """Every URL pattern (as a template) that captures a `<uuid:...>`, from the resolver itself."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and any(
                isinstance(conv, UUIDConverter) for conv in pattern.pattern.converters.values()
            ):
                found.append(route)

    walk(get_resolver().url_patterns, "/")
    return found
