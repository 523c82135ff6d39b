"""What the audit trail records: uploads, runs, deletions, by whom and how, and what it purges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent, AuditVia
from audit.services import audit_record
from audit.tasks import audit_events_purge_task
from media_analysis.choices import AnalysisStatus, Prediction, RunStatus
from media_analysis.models import Media
from media_analysis.pipeline.finish import run_finalize
from media_analysis.pipeline.start import run_start
from media_analysis.services.ingest import media_ingest
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, UserFactory
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import csrf_token

pytestmark = pytest.mark.django_db

MEDIA_URL = "/api/v1/media"


@pytest.fixture(autouse=True)
def _fresh_cache(isolated_cache):
    """Fresh cache keys: the inference server's model list is cached between requests."""


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def owner_api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _api_upload(client, path):
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post(MEDIA_URL, {"media": upload}, format="multipart")


def test_an_api_upload_records_one_upload_by_its_user_via_the_api(
    owner, owner_api, media_file, fake_inference
):
    clip = media_file("interview.mp4", seconds=1)

    response = _api_upload(owner_api, clip)

    assert response.status_code == 202, response.content
    media = Media.objects.get(owner=owner)
    event = AuditEvent.objects.get()
    assert (event.action, event.via) == (AuditAction.MEDIA_UPLOADED, AuditVia.API)
    assert (event.owner_id, event.actor_id, event.actor_label) == (owner.pk, owner.pk, owner.email)
    assert (event.target_type, event.target_id) == ("media", str(media.pk))
    assert event.target_label == "interview.mp4"
    assert event.details["filename"] == "interview.mp4"
    assert event.details["size"] == clip.stat().st_size == media.size
    assert event.details["sha256"] == media.sha256
    assert event.details["media_type"] == media.media_type
    # Run #1 is the upload's: no RUN_STARTED row of its own.
    assert not AuditEvent.objects.filter(action=AuditAction.RUN_STARTED).exists()


def test_a_page_upload_records_one_upload_via_the_web(owner, media_file, fake_inference):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    clip = media_file("briefing.mp4")
    data = {"csrfmiddlewaretoken": csrf_token(browser, "/upload/")}
    with clip.open("rb") as handle:
        response = browser.post("/upload/", {**data, "media": handle})

    assert response.status_code == 302
    event = AuditEvent.objects.get()
    assert (event.action, event.via, event.actor_id) == (
        AuditAction.MEDIA_UPLOADED,
        AuditVia.WEB,
        owner.pk,
    )
    assert event.ip_address == "127.0.0.1"


def test_a_refused_upload_records_nothing(owner_api, tmp_path, fake_inference):
    note = tmp_path / "notes.txt"
    note.write_text("not media")

    response = _api_upload(owner_api, note)

    assert response.status_code == 415
    assert not AuditEvent.objects.exists()


def test_an_upload_rolled_back_with_its_transaction_leaves_no_row(
    owner, media_file, fake_inference
):
    clip = media_file("interview.mp4", seconds=1)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        with clip.open("rb") as handle:
            media_ingest(owner=owner, upload=File(handle), filename=clip.name)
        assert AuditEvent.objects.count() == 1
        raise Abandoned

    assert not AuditEvent.objects.exists() and not Media.objects.exists()


def test_a_robustness_copy_is_not_recorded_as_an_upload(owner, media_file, fake_inference):
    clip = media_file("interview.mp4", seconds=1)
    with clip.open("rb") as handle:
        original = media_ingest(owner=owner, upload=File(handle), filename=clip.name).media
    with clip.open("rb") as handle:
        media_ingest(
            owner=owner,
            upload=File(handle),
            filename="interview (re-encoded).mp4",
            derived_from=original,
            derivation="h264-crf35",
        )

    assert list(AuditEvent.objects.values_list("action", "target_id")) == [
        (AuditAction.MEDIA_UPLOADED, str(original.pk))
    ]


def test_a_rerun_through_the_api_records_run_started_with_the_requested_models(
    owner, owner_api, fake_inference
):
    media = stored_media(owner=owner, original_filename="clip.mp4")

    response = owner_api.post(
        f"{MEDIA_URL}/{media.pk}/analyze", {"models": ["SIGLIP-LSTM-V4"]}, format="json"
    )

    assert response.status_code == 202, response.content
    event = AuditEvent.objects.get()
    run = media.runs.get()
    assert (event.action, event.via, event.actor_id) == (
        AuditAction.RUN_STARTED,
        AuditVia.API,
        owner.pk,
    )
    assert (event.target_type, event.target_id) == ("analysisrun", str(run.pk))
    assert event.target_label == "clip.mp4 run #1"
    assert event.details["requested_models"] == ["SIGLIP-LSTM-V4"]


def test_a_rerun_from_the_page_records_run_started_via_the_web(owner, fake_inference):
    browser = Client()
    browser.force_login(owner)
    media = stored_media(owner=owner)

    response = browser.post(f"/media/{media.pk}/analyze/")

    assert response.status_code == 302
    event = AuditEvent.objects.get()
    assert (event.action, event.via, event.details["requested_models"]) == (
        AuditAction.RUN_STARTED,
        AuditVia.WEB,
        [],
    )


def test_a_refused_rerun_records_nothing(owner_api, owner, fake_inference):
    media = stored_media(owner=owner)
    AnalysisRunFactory(media=media, run_number=1, status=RunStatus.PROCESSING)

    response = owner_api.post(f"{MEDIA_URL}/{media.pk}/analyze", {}, format="json")

    assert response.status_code == 409
    assert not AuditEvent.objects.exists()


def test_a_run_reaching_its_final_status_records_run_finished_once(owner):
    media = stored_media(owner=owner, original_filename="clip.mp4")
    run = AnalysisRunFactory(media=media, run_number=2, status=RunStatus.PROCESSING)
    for name, prediction in (("A-V1", Prediction.FAKE), ("B-V1", Prediction.FAKE)):
        DeepfakeAnalysisFactory(
            run=run,
            model_name=name,
            status=AnalysisStatus.COMPLETED,
            prediction=prediction,
            confidence=0.9,
        )

    finalized = run_finalize(run_id=run.pk)
    run_finalize(run_id=run.pk)

    event = AuditEvent.objects.get()
    assert (event.action, event.via, event.actor_id) == (
        AuditAction.RUN_FINISHED,
        AuditVia.SYSTEM,
        None,
    )
    assert (event.owner_id, event.target_id) == (owner.pk, str(run.pk))
    assert event.target_label == "clip.mp4 run #2"
    assert event.details["status"] == RunStatus.ANALYZED == finalized.status
    assert event.details["verdict"] == finalized.verdict is not None
    assert event.details["fake_score"] == pytest.approx(finalized.fake_score)


def test_a_run_that_cannot_start_any_model_records_its_start_and_its_end(
    owner, fake_inference_factory
):
    fake_inference_factory(models=[FakeModel("AUDIO-ONLY-V1", audio=True)])
    media = stored_media(owner=owner)

    run = run_start(media=media)

    assert run.status == RunStatus.FAILED
    assert list(
        AuditEvent.objects.order_by("created_at").values_list("action", "details__status")
    ) == [(AuditAction.RUN_STARTED, None), (AuditAction.RUN_FINISHED, RunStatus.FAILED)]


def test_deleting_media_leaves_a_row_that_outlives_it(owner, owner_api):
    media = stored_media(owner=owner, original_filename="gone.mp4")
    AnalysisRunFactory(media=media, run_number=1, status=RunStatus.ANALYZED)
    AnalysisRunFactory(media=media, run_number=2, status=RunStatus.FAILED)

    response = owner_api.delete(f"{MEDIA_URL}/{media.pk}")

    assert response.status_code == 200, response.content
    assert not Media.objects.filter(pk=media.pk).exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.via, event.actor_id) == (
        AuditAction.MEDIA_DELETED,
        AuditVia.API,
        owner.pk,
    )
    assert (event.target_type, event.target_id, event.target_label) == (
        "media",
        str(media.pk),
        "gone.mp4",
    )
    assert event.details == {"filename": "gone.mp4", "sha256": media.sha256, "runs": 2}


def test_deleting_media_from_the_page_records_it_via_the_web(owner):
    browser = Client()
    browser.force_login(owner)
    media = stored_media(owner=owner)

    response = browser.post(f"/media/{media.pk}/delete/", {"confirmed": "yes"})

    assert response.status_code == 302
    event = AuditEvent.objects.get()
    assert (event.action, event.via, event.target_id) == (
        AuditAction.MEDIA_DELETED,
        AuditVia.WEB,
        str(media.pk),
    )


def _aged(owner, *, days: int) -> AuditEvent:
    event = audit_record(action=AuditAction.MEDIA_UPLOADED, owner_id=owner.pk, target_label="x")
    AuditEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=days))
    return event


def test_the_purge_task_deletes_only_rows_past_the_retention(owner, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    settings.AUDIT_PURGE_BATCH_SIZE = 2
    old = [_aged(owner, days=31) for _ in range(3)]
    kept = [_aged(owner, days=29), _aged(owner, days=0)]

    purged = audit_events_purge_task()

    assert purged == len(old)
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {event.pk for event in kept}


def test_a_retention_of_zero_keeps_everything(owner, settings):
    settings.AUDIT_RETENTION_DAYS = 0
    _aged(owner, days=5000)

    assert audit_events_purge_task() == 0
    assert AuditEvent.objects.count() == 1


def test_the_purge_runs_daily_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-old-audit-events"]

    assert entry["task"] == "audit.audit_events_purge" and entry["schedule"] == 24 * 60 * 60
