"""Reading, changing, re-running and downloading media over the API — and only one's own."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from tests.factories import (
    AdminUserFactory,
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    UserFactory,
    video_result_payload,
)
from tests.fixtures.media_files import stored_files
from tests.fixtures.pipeline import stored_media, upload_dispatched

pytestmark = pytest.mark.django_db
CONTENT = bytes(range(256)) * 64


def _media_with_runs(owner, *, runs: int = 2, **fields) -> Media:
    """A media item with `runs` finished runs of two analyses each; the newest is the latest."""
    media = stored_media(owner=owner, content=CONTENT, **fields)
    for number in range(1, runs + 1):
        run = AnalysisRunFactory(
            media=media,
            run_number=number,
            status=RunStatus.ANALYZED,
            verdict=Verdict.FAKE,
            fake_score=0.7,
            agreement=1.0,
        )
        for name in ("MODEL-A", "MODEL-B"):
            DeepfakeAnalysisFactory(
                run=run,
                model_name=name,
                status=AnalysisStatus.COMPLETED,
                prediction=Prediction.FAKE,
                confidence=0.7,
                result_payload=video_result_payload(frames=10),
            )
    media.latest_run = run
    media.status = run.status
    media.save(update_fields=["latest_run", "status"])
    return media


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- list -----------------------------------------------------------------------------------------


def test_list_is_newest_first_with_latest_run_and_its_analyses(owner, owner_client):
    older = _media_with_runs(owner)
    newer = _media_with_runs(owner)
    _media_with_runs(UserFactory())

    response = owner_client.get("/api/v1/media?page=1")

    data = response.json()["data"]
    assert [item["id"] for item in data["results"]] == [str(newer.pk), str(older.pk)]
    assert data["count"] == 2 and data["page"] == 1 and data["totalPages"] == 1
    latest = data["results"][0]["latestRun"]
    assert latest["runNumber"] == 2
    assert [a["modelName"] for a in latest["analyses"]] == ["MODEL-A", "MODEL-B"]
    assert "resultPayload" not in latest["analyses"][0]


def test_list_costs_the_same_queries_for_one_or_a_hundred_items(owner, owner_client):
    for _ in range(12):
        _media_with_runs(owner, runs=1)

    def queries_for(page_size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = owner_client.get(f"/api/v1/media?pageSize={page_size}")
        assert response.status_code == 200
        assert len(response.json()["data"]["results"]) == min(page_size, 12)
        return len(captured)

    assert queries_for(1) == queries_for(100)


def test_list_filters_search_and_ordering(owner, owner_client):
    video = _media_with_runs(owner, original_filename="press-briefing.mp4", description="podium")
    audio = stored_media(
        owner=owner,
        media_type=MediaType.AUDIO,
        extension="wav",
        mimetype="audio/wav",
        original_filename="call.wav",
        status=RunStatus.FAILED,
    )

    def ids(query: str) -> list[str]:
        response = owner_client.get(f"/api/v1/media?page=1&{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["data"]["results"]]

    assert ids("mediaType=AUDIO") == [str(audio.pk)]
    assert ids("mediaType=video") == [str(video.pk)]
    assert ids("status=FAILED") == [str(audio.pk)]
    assert ids("verdict=FAKE") == [str(video.pk)]
    assert ids("verdict=REAL") == []
    assert ids("search=BRIEFING") == [str(video.pk)]
    assert ids("search=podium") == [str(video.pk)]
    assert ids("ordering=filename") == [str(audio.pk), str(video.pk)]
    assert ids("ordering=-filename") == [str(video.pk), str(audio.pk)]


def test_a_search_holding_a_nul_character_is_400_on_the_api_and_the_dashboard(
    owner, owner_client, client
):
    api = owner_client.get("/api/v1/media?search=a%00b")
    client.force_login(owner)
    page = client.get("/?search=a%00b")

    assert api.status_code == 400
    assert api.json()["errors"] == [
        {"field": "search", "message": "The search text cannot contain NUL characters."}
    ]
    assert page.status_code in (200, 400)
    assert "NUL characters" in page.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("mediaType=HOLOGRAM", "mediaType"),
        ("status=DONE", "status"),
        ("ordering=owner", "ordering"),
    ],
)
def test_list_rejects_unknown_filter_values(owner_client, query, field):
    response = owner_client.get(f"/api/v1/media?{query}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_list_paginates(owner, owner_client):
    for _ in range(5):
        _media_with_runs(owner, runs=1)

    data = owner_client.get("/api/v1/media?page=2&pageSize=2").json()["data"]

    assert (data["count"], data["page"], data["pageSize"], data["totalPages"]) == (5, 2, 2, 3)
    assert len(data["results"]) == 2


# --- detail, update, delete, re-run ------------------------------------------------------------


def test_detail_has_every_run_newest_first_and_the_latest_analyses(owner, owner_client):
    media = _media_with_runs(owner, runs=3)

    data = owner_client.get(f"/api/v1/media/{media.pk}").json()["data"]

    assert [run["runNumber"] for run in data["runs"]] == [3, 2, 1]
    assert data["latestRun"]["runNumber"] == 3
    assert data["latestAnalysisRunId"] == str(media.latest_run_id)
    assert [a["modelName"] for a in data["analyses"]] == ["MODEL-A", "MODEL-B"]
    assert data["analyses"][0]["resultPayload"]["frame_predictions"][0]["index"] == 0
    assert data["runs"][0]["reportUrl"] == f"/api/v1/pdf/report/run/{media.latest_run_id}"


def test_patch_changes_only_the_description(owner, owner_client):
    media = _media_with_runs(owner)

    response = owner_client.patch(
        f"/api/v1/media/{media.pk}", {"description": "Checked by the desk"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["data"]["description"] == "Checked by the desk"
    media.refresh_from_db()
    assert media.description == "Checked by the desk"


@pytest.mark.parametrize(
    "body",
    [
        {"description": "ok", "status": "ANALYZED"},
        {"originalFilename": "renamed.mp4"},
        {"userId": "00000000-0000-0000-0000-000000000000"},
        {"description": "x" * 501},
        {},
    ],
)
def test_patch_refuses_anything_else_and_changes_nothing(owner, owner_client, body):
    media = _media_with_runs(owner, description="original")
    before = Media.objects.filter(pk=media.pk).values().get()

    response = owner_client.patch(f"/api/v1/media/{media.pk}", body, format="json")

    assert response.status_code == 400
    assert Media.objects.filter(pk=media.pk).values().get() == before


def test_delete_removes_rows_and_stored_files(
    owner, owner_client, settings, django_capture_on_commit_callbacks
):
    media = _media_with_runs(owner)
    keep = _media_with_runs(owner)
    assert len(stored_files(settings.MEDIA_ROOT)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"/api/v1/media/{media.pk}")

    assert response.status_code == 200
    assert not Media.objects.filter(pk=media.pk).exists()
    assert not AnalysisRun.objects.filter(media_id=media.pk).exists()
    assert stored_files(settings.MEDIA_ROOT) == [keep.file.name]


def test_delete_of_an_uploaded_video_removes_its_original_and_thumbnail(
    owner_client, media_file, fake_inference, settings, django_capture_on_commit_callbacks
):
    """The poster is made when the upload's run is dispatched; then it has two files to remove."""
    uploaded = owner_client.post(
        "/api/v1/media",
        {"media": SimpleUploadedFile("clip.mp4", media_file("clip.mp4").read_bytes())},
        format="multipart",
    )
    assert uploaded.status_code == 202, uploaded.content
    media = upload_dispatched(uploaded.json()["data"]["id"])
    assert media.prepared_at is not None
    original, thumbnail = media.file.name, media.thumbnail.name
    assert stored_files(settings.MEDIA_ROOT) == sorted([original, thumbnail])
    assert thumbnail == f"thumbnails/{media.pk}.jpg"

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"/api/v1/media/{media.pk}")

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert stored_files(settings.MEDIA_ROOT) == []
    assert not (settings.MEDIA_ROOT / original).exists()
    assert not (settings.MEDIA_ROOT / thumbnail).exists()
    assert not Media.objects.filter(pk=media.pk).exists()
    assert not AnalysisRun.objects.filter(media_id=media.pk).exists()


def test_rerun_creates_the_next_run(owner, owner_client, fake_inference):
    media = _media_with_runs(owner, runs=1)

    response = owner_client.post(f"/api/v1/media/{media.pk}/analyze", {}, format="json")

    assert response.status_code == 202, response.content
    run = response.json()["data"]["latestRun"]
    assert run["runNumber"] == 2 and run["status"] == RunStatus.QUEUED
    assert len(run["analyses"]) == len(fake_inference.models)
    assert media.runs.count() == 2


def test_rerun_while_a_run_is_active_is_409(owner, owner_client, fake_inference):
    media = _media_with_runs(owner, runs=1)
    AnalysisRun.objects.filter(pk=media.latest_run_id).update(status=RunStatus.PROCESSING)

    response = owner_client.post(f"/api/v1/media/{media.pk}/analyze", {}, format="json")

    assert response.status_code == 409
    assert media.runs.count() == 1


def test_rerun_with_unknown_model_is_400(owner, owner_client, fake_inference):
    media = _media_with_runs(owner, runs=1)

    response = owner_client.post(
        f"/api/v1/media/{media.pk}/analyze", {"models": ["NOPE"]}, format="json"
    )

    assert response.status_code == 400
    assert media.runs.count() == 1


# --- files ----------------------------------------------------------------------------------------


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_owner_downloads_the_original_and_can_seek(owner, owner_client):
    media = _media_with_runs(owner)

    whole = owner_client.get(f"/api/v1/media/{media.pk}/file")
    part = owner_client.get(f"/api/v1/media/{media.pk}/file", HTTP_RANGE="bytes=100-299")

    assert whole.status_code == 200 and _body(whole) == CONTENT
    assert whole["Content-Type"] == "video/mp4"
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-299/{len(CONTENT)}"
    assert _body(part) == CONTENT[100:300]


def test_download_flag_sends_an_attachment_with_the_original_name(owner, owner_client):
    media = _media_with_runs(owner, original_filename="briefing.mp4")

    response = owner_client.get(f"/api/v1/media/{media.pk}/file?download=1")

    assert 'filename="briefing.mp4"' in response["Content-Disposition"]


def test_staff_may_download_any_file(owner):
    media = _media_with_runs(owner)

    response = _client(AdminUserFactory()).get(f"/api/v1/media/{media.pk}/file")

    assert response.status_code == 200


def test_media_without_thumbnail_answers_404(owner, owner_client):
    media = _media_with_runs(owner)

    assert owner_client.get(f"/api/v1/media/{media.pk}/thumbnail").status_code == 404


def test_report_pdf_is_an_attachment(owner, owner_client):
    media = _media_with_runs(owner, original_filename="briefing.mp4")

    response = owner_client.get(f"/api/v1/pdf/report/run/{media.latest_run_id}")

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert 'filename="briefing_run-2_' in response["Content-Disposition"]


# --- nobody else's --------------------------------------------------------------------------------


def _endpoints(media: Media) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/api/v1/media/{media.pk}", {}),
        ("patch", f"/api/v1/media/{media.pk}", {"description": "mine now"}),
        ("delete", f"/api/v1/media/{media.pk}", {}),
        ("post", f"/api/v1/media/{media.pk}/analyze", {}),
        ("get", f"/api/v1/media/{media.pk}/file", {}),
        ("get", f"/api/v1/media/{media.pk}/thumbnail", {}),
        ("get", f"/api/v1/pdf/report/run/{media.latest_run_id}", {}),
    ]


def test_someone_elses_media_is_404_on_every_endpoint(owner, fake_inference, settings):
    media = _media_with_runs(owner)
    stranger = _client(UserFactory())

    for method, url, body in _endpoints(media):
        response = getattr(stranger, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["success"] is False

    media.refresh_from_db()
    assert media.description == "" and media.runs.count() == 2
    assert stored_files(settings.MEDIA_ROOT) == [media.file.name]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/media/not-a-uuid",
        "/api/v1/media/123/analyze",
        "/api/v1/media/../../etc/passwd/file",
        "/api/v1/pdf/report/run/zzz",
    ],
)
def test_malformed_ids_are_404_in_the_envelope(owner_client, url):
    response = owner_client.get(url)

    assert response.status_code == 404
    assert response.json()["success"] is False


def test_anonymous_callers_get_401(owner):
    media = _media_with_runs(owner)

    for method, url, body in _endpoints(media):
        response = getattr(APIClient(), method)(url, body, format="json")
        assert response.status_code == 401, (method, url)
    assert DeepfakeAnalysis.objects.filter(run__media=media).count() == 4
