"""An upload is answered before its probe; the worker probes it, or refuses it, before any model.

Real `celery worker` processes, the real broker and database, the fake inference server.
"""

from __future__ import annotations

import os

import psutil
import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import DeepfakeAnalysis, Media
from media_analysis.pipeline.start import run_start
from media_analysis.robustness import RobustnessState, robustness_summary
from media_analysis.services.ingest import media_ingest
from media_analysis.services.prepare import REFUSED_PREFIX, media_prepare
from tests.factories import UserFactory
from tests.fixtures.media_files import stored_files
from tests.fixtures.pipeline import upload_dispatched, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _ingest(path, *, name=None, **options):
    with path.open("rb") as handle:
        return media_ingest(
            owner=UserFactory(), upload=File(handle), filename=name or path.name, **options
        ).media


def _final_run(media: Media):
    def settled():
        media.refresh_from_db()
        run = media.latest_run
        return run if run is not None and run.status not in RunStatus.active() else None

    return wait_for(settled)


def test_an_upload_is_answered_unprobed_and_the_worker_prepares_it_before_the_models(
    fake_inference, worker_process, media_file, settings
):
    worker = worker_process(concurrency=2)
    media = _ingest(media_file("interview.mp4", seconds=2))

    # As answered: stored and queued, nothing probed.
    assert media.prepared_at is None
    assert media.metadata == {} and not media.thumbnail and media.has_audio is None
    assert media.latest_run.status == RunStatus.QUEUED

    run = _final_run(media)

    assert run.status == RunStatus.ANALYZED, run.error_message
    assert media.prepared_at is not None
    assert media.metadata["video"]["width"] == 160
    assert media.has_audio is True
    assert media.thumbnail.name == f"thumbnails/{media.pk}.jpg"
    assert stored_files(settings.MEDIA_ROOT) == sorted(
        [f"videos/{media.pk}.mp4", f"thumbnails/{media.pk}.jpg"]
    )
    statuses = set(run.analyses.values_list("status", flat=True))
    assert statuses == {AnalysisStatus.COMPLETED}
    assert len(fake_inference.analyze_requests()) == len(fake_inference.models)

    # The worker and its pool (and so the ffprobe/ffmpeg they start) give way to the web server.
    expected = min(os.getpriority(os.PRIO_PROCESS, 0) + settings.WORKER_NICENESS, 19)
    processes = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]
    assert len(processes) >= 3
    assert {process.nice() for process in processes} == {expected}


def test_a_file_the_probe_refuses_fails_its_run_with_the_reason_and_reaches_no_model(
    fake_inference, worker_process, media_file
):
    clip = media_file("clip.mp4").read_bytes()
    truncated = media_file("clip.mp4").with_name("truncated.mp4")
    truncated.write_bytes(clip[:1024])
    worker_process(concurrency=2)
    media = _ingest(truncated, robustness_check=True)
    assert media.latest_run.status == RunStatus.QUEUED

    run = _final_run(media)

    assert run.status == RunStatus.FAILED
    assert run.error_message.startswith(REFUSED_PREFIX)
    assert "damaged, truncated or not a media file" in run.error_message
    assert media.status == RunStatus.FAILED
    assert media.prepared_at is None and media.metadata == {} and not media.thumbnail
    assert not DeepfakeAnalysis.objects.filter(run__media=media).exists()
    assert fake_inference.analyze_requests() == []
    # No re-encoded copy is made of a refused file, and the check says so instead of waiting.
    assert not Media.objects.filter(derived_from=media).exists()
    assert robustness_summary(media=media).state == RobustnessState.UNAVAILABLE

    # Asked again, the file is probed again and refused again: refusal is not forgotten.
    again = run_start(media=media)
    assert again.status == RunStatus.QUEUED
    rerun = wait_for(lambda: Media.objects.get(pk=media.pk).status == RunStatus.FAILED and again)
    rerun.refresh_from_db()
    assert rerun.error_message.startswith(REFUSED_PREFIX)
    assert fake_inference.analyze_requests() == []


def test_two_preparations_at_once_record_one_result_and_leave_one_poster(
    fake_inference, media_file, settings
):
    media = _ingest(media_file("clip.mp4"))
    stale = Media.objects.get(pk=media.pk)

    first = media_prepare(media=media)
    # A second task that read the row before the first finished: it probes and makes a poster
    # too, finds the row prepared, and removes its own poster.
    second = media_prepare(media=stale)

    assert first.prepared_at is not None
    assert second.prepared_at == first.prepared_at
    assert second.thumbnail.name == first.thumbnail.name == f"thumbnails/{media.pk}.jpg"
    assert stored_files(settings.MEDIA_ROOT) == sorted(
        [f"videos/{media.pk}.mp4", f"thumbnails/{media.pk}.jpg"]
    )


def test_an_upload_whose_stored_file_vanished_fails_its_run_with_that_reason(
    fake_inference, media_file
):
    media = _ingest(media_file("clip.mp4"))
    default_storage.delete(media.file.name)

    run = upload_dispatched(media.pk).latest_run

    assert run.status == RunStatus.FAILED
    assert run.error_message == "The stored file is missing."
    assert fake_inference.analyze_requests() == []
