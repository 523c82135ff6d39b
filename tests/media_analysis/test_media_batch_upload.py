"""Batch upload: POST /api/v1/media/batch and the upload page's form with several files.

Every file becomes its own media through the same ingest as a single upload, and gets its own
result; one refused file does not stop the others.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent, AuditVia
from drishtiksha.asgi_limits import BATCH_UPLOAD_PATH, RequestBodyLimit, request_body_limit
from media_analysis.models import AnalysisRun, Media
from tests.factories import UserFactory
from tests.fixtures.media_files import stored_files

URL = "/api/v1/media/batch"
SINGLE_URL = "/api/v1/media"
UPLOAD_PAGE = "/upload/"
pytestmark = pytest.mark.django_db


def _files(*paths, field="media"):
    return {field: [SimpleUploadedFile(path.name, path.read_bytes()) for path in paths]}


def _batch(client, *paths, field="media", **extra):
    return client.post(URL, {**_files(*paths, field=field), **extra}, format="multipart")


@pytest.fixture
def notes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not media at all")
    return path


def _originals(settings) -> list[str]:
    return [
        name
        for name in stored_files(settings.MEDIA_ROOT)
        if name.startswith(("videos/", "images/", "audio/"))
    ]


# --- API --------------------------------------------------------------------------------------


def test_two_good_files_and_one_bad_make_two_media_and_one_error_in_order(
    owner_client, owner, media_file, fake_inference, notes, settings
):
    clip = media_file("clip.mp4")
    photo = media_file("photo.png")

    response = _batch(owner_client, clip, notes, photo, description="Evening bulletin")

    assert response.status_code == 207, response.content
    body = response.json()
    assert body["success"] is True and body["statusCode"] == 207
    assert body["message"] == "2 of 3 files uploaded"
    data = body["data"]
    assert (data["uploaded"], data["failed"]) == (2, 1)
    results = data["results"]
    assert [result["filename"] for result in results] == ["clip.mp4", "notes.txt", "photo.png"]
    assert [result["status"] for result in results] == [202, 415, 202]
    assert results[1]["error"]["code"] == "unsupported_media_type"
    assert "Files with .txt are not accepted." in results[1]["error"]["message"]
    assert "media" not in results[1]
    stored = Media.objects.filter(owner=owner)
    assert {media.original_filename for media in stored} == {"clip.mp4", "photo.png"}
    assert {str(media.pk) for media in stored} == {
        results[0]["media"]["id"],
        results[2]["media"]["id"],
    }
    assert all(media.description == "Evening bulletin" for media in stored)
    assert results[0]["media"]["latestRun"]["status"] == "QUEUED"
    assert AnalysisRun.objects.filter(media__owner=owner).count() == 2
    assert len(_originals(settings)) == 2


def test_each_stored_file_of_a_batch_is_in_the_owners_audit_trail_as_an_api_upload(
    owner_client, owner, media_file, fake_inference, notes
):
    response = _batch(owner_client, media_file("clip.mp4"), notes, media_file("photo.png"))

    assert response.status_code == 207, response.content
    events = AuditEvent.objects.filter(owner=owner, action=AuditAction.MEDIA_UPLOADED)
    stored = {str(pk) for pk in Media.objects.filter(owner=owner).values_list("pk", flat=True)}
    assert {event.target_id for event in events} == stored and len(stored) == 2
    assert {(event.via, event.actor_id) for event in events} == {(AuditVia.API, owner.pk)}


def test_the_shared_model_choice_applies_to_every_file(
    owner_client, owner, media_file, fake_inference
):
    clips = [media_file("a.mp4"), media_file("b.mp4", seconds=2)]

    response = _batch(owner_client, *clips, models="SIGLIP-LSTM-V4")

    assert response.status_code == 207, response.content
    runs = AnalysisRun.objects.filter(media__owner=owner)
    assert [run.requested_models for run in runs] == [["SIGLIP-LSTM-V4"]] * 2


def test_files_may_come_in_the_file_field_too(owner_client, owner, media_file, fake_inference):
    response = _batch(owner_client, media_file("a.mp4"), media_file("b.png"), field="file")

    assert response.status_code == 207, response.content
    assert response.json()["data"]["uploaded"] == 2
    assert Media.objects.filter(owner=owner).count() == 2


def test_no_file_is_a_400(owner_client, fake_inference):
    response = owner_client.post(URL, {"description": "nothing"}, format="multipart")

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["errors"][0]["field"] == "media"


def test_more_files_than_the_batch_may_hold_is_a_400_and_stores_nothing(
    owner_client, media_file, fake_inference, settings, upload_temp_dir
):
    settings.UPLOAD_BATCH_MAX_FILES = 2
    clip = media_file("clip.mp4")

    response = _batch(owner_client, clip, clip, clip)

    assert response.status_code == 400
    assert response.json()["message"] == "A batch may hold at most 2 files."
    assert not Media.objects.exists()
    assert _originals(settings) == []
    assert list(upload_temp_dir.iterdir()) == []


def test_a_file_over_the_size_limit_gets_its_own_413_and_the_others_are_stored(
    owner_client, owner, media_file, fake_inference, settings, upload_temp_dir
):
    small = media_file("small.png")
    big = media_file("big.mp4", seconds=2)
    settings.MAX_UPLOAD_SIZE = small.stat().st_size + 1024
    assert big.stat().st_size > settings.MAX_UPLOAD_SIZE

    response = _batch(owner_client, big, small)

    assert response.status_code == 207, response.content
    results = response.json()["data"]["results"]
    assert [result["status"] for result in results] == [413, 202]
    assert results[0]["error"]["code"] == "payload_too_large"
    assert "upload limit" in results[0]["error"]["message"]
    assert [media.original_filename for media in Media.objects.filter(owner=owner)] == ["small.png"]
    # The skipped file was never kept, and the stored one was moved out of the upload folder.
    assert list(upload_temp_dir.iterdir()) == []


def test_a_body_over_the_batch_limit_is_a_413(owner_client, media_file, fake_inference, settings):
    clip = media_file("clip.mp4")
    settings.REQUEST_BODY_OVERHEAD_BYTES = 0
    settings.MAX_UPLOAD_SIZE = clip.stat().st_size + 1024
    settings.UPLOAD_BATCH_MAX_BYTES = settings.MAX_UPLOAD_SIZE + 1024

    response = _batch(owner_client, clip, clip)

    assert response.status_code == 413
    assert "a batch upload may be at most" in response.json()["message"]
    assert not Media.objects.exists()


def test_the_batch_body_limit_applies_to_the_batch_route_only(settings):
    settings.MAX_UPLOAD_SIZE = 10 * 1024 * 1024
    settings.UPLOAD_BATCH_MAX_BYTES = 100 * 1024 * 1024
    settings.REQUEST_BODY_OVERHEAD_BYTES = 1024

    assert reverse("media-api:batch") == BATCH_UPLOAD_PATH
    assert request_body_limit(BATCH_UPLOAD_PATH) == 100 * 1024 * 1024 + 1024
    assert request_body_limit(SINGLE_URL) == 10 * 1024 * 1024 + 1024
    assert request_body_limit(UPLOAD_PAGE) == 10 * 1024 * 1024 + 1024


def test_each_file_counts_against_the_upload_throttle(
    owner_client, owner, media_file, fake_inference, settings, isolated_cache
):
    settings.API_UPLOAD_THROTTLE_RATE = "3/hour"
    clip = media_file("clip.mp4")
    assert owner_client.post(SINGLE_URL, _files(clip), format="multipart").status_code == 202

    response = _batch(owner_client, clip, clip, clip)

    assert response.status_code == 207, response.content
    results = response.json()["data"]["results"]
    assert [result["status"] for result in results] == [202, 202, 429]
    assert results[2]["error"]["code"] == "too_many_requests"
    assert Media.objects.filter(owner=owner).count() == 3
    # With the rate used up, the next batch is refused before any file is looked at.
    again = _batch(owner_client, clip)
    assert again.status_code == 429
    assert again.json()["success"] is False
    assert Media.objects.filter(owner=owner).count() == 3


def test_the_media_belong_to_the_caller_alone(owner_client, owner, media_file, fake_inference):
    response = _batch(owner_client, media_file("clip.mp4"))
    media_id = response.json()["data"]["results"][0]["media"]["id"]
    stranger = Client()
    stranger.force_login(UserFactory())

    assert Media.objects.get(pk=media_id).owner == owner
    assert stranger.get(f"{SINGLE_URL}/{media_id}").status_code == 404
    assert owner_client.get(f"{SINGLE_URL}/{media_id}").status_code == 200


def test_an_anonymous_batch_is_a_401_and_stores_nothing(api_client, media_file, fake_inference):
    response = _batch(api_client, media_file("clip.mp4"))

    assert response.status_code == 401
    assert not Media.objects.exists()


def test_unknown_fields_are_refused(owner_client, media_file, fake_inference):
    response = _batch(owner_client, media_file("clip.mp4"), owner="someone-else")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "owner"
    assert not Media.objects.exists()


def test_the_single_file_endpoint_is_unchanged(owner_client, media_file, fake_inference):
    clip = media_file("clip.mp4")
    with clip.open("rb") as handle:
        response = owner_client.post(
            SINGLE_URL, {"media": handle, "description": "one"}, format="multipart"
        )

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["filename"] == "clip.mp4" and data["description"] == "one"
    assert "results" not in data


def test_the_batch_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"][URL]["post"]
    assert {"207", "400", "413"} <= set(operation["responses"])
    assert "multipart/form-data" in operation["requestBody"]["content"]


# --- The upload page without scripts ------------------------------------------------------------


def _csrf(browser) -> str:
    html = browser.get(UPLOAD_PAGE).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


@pytest.fixture
def page_browser(owner) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def test_the_page_form_with_several_files_stores_each_and_lists_the_outcomes(
    page_browser, owner, media_file, fake_inference, notes
):
    clip, photo = media_file("clip.mp4"), media_file("photo.png")
    data = {"csrfmiddlewaretoken": _csrf(page_browser), "description": "Desk upload"}
    with clip.open("rb") as a, notes.open("rb") as b, photo.open("rb") as c:
        response = page_browser.post(UPLOAD_PAGE, {**data, "media": [a, b, c]})

    assert response.status_code == 200
    html = response.content.decode()
    stored = {media.original_filename: media for media in Media.objects.filter(owner=owner)}
    assert set(stored) == {"clip.mp4", "photo.png"}
    assert all(media.description == "Desk upload" for media in stored.values())
    assert "2 of 3 files uploaded" in html
    for media in stored.values():
        assert f'href="/media/{media.pk}/"' in html
    assert "Files with .txt are not accepted." in html
    assert 'id="batch-results"' in html


def test_the_page_form_refuses_more_files_than_a_batch_may_hold(
    page_browser, media_file, fake_inference, settings
):
    settings.UPLOAD_BATCH_MAX_FILES = 2
    clip = media_file("clip.mp4")
    data = {"csrfmiddlewaretoken": _csrf(page_browser)}
    with clip.open("rb") as a, clip.open("rb") as b, clip.open("rb") as c:
        response = page_browser.post(UPLOAD_PAGE, {**data, "media": [a, b, c]})

    assert response.status_code == 400
    assert "A batch may hold at most 2 files." in response.content.decode()
    assert not Media.objects.exists()


def test_the_page_serves_the_batch_rules_and_a_multiple_file_input(page_browser, settings):
    settings.UPLOAD_BATCH_MAX_FILES = 7
    settings.UPLOAD_BATCH_CONCURRENCY = 3

    html = page_browser.get(UPLOAD_PAGE).content.decode()

    rules = re.search(r'<script id="upload-rules" type="application/json">(.*?)</script>', html)[1]
    assert '"maxBatchFiles": 7' in rules and '"batchConcurrency": 3' in rules
    assert re.search(r'<input type="file" name="media"[^>]* multiple', html)


def _through_body_limit(path: str, declared: int) -> tuple[int, bytes, bool]:
    """Status, body and whether the app behind was reached, for a request declaring `declared`."""
    reached = False

    async def inner(scope, receive, send):
        nonlocal reached
        reached = True
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-length", str(declared).encode())],
    }
    asyncio.run(RequestBodyLimit(inner)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, reached


def test_over_asgi_a_batch_body_may_exceed_one_uploads_limit_up_to_the_batch_limit(settings):
    settings.MAX_UPLOAD_SIZE = 1024 * 1024
    settings.UPLOAD_BATCH_MAX_BYTES = 4 * 1024 * 1024
    settings.REQUEST_BODY_OVERHEAD_BYTES = 0
    three_mib = 3 * 1024 * 1024

    assert _through_body_limit(URL, three_mib) == (204, b"", True)
    assert _through_body_limit(SINGLE_URL, three_mib)[0] == 413
    status, body, reached = _through_body_limit(URL, 5 * 1024 * 1024)
    assert (status, reached) == (413, False)
    assert json.loads(body)["message"] == (
        "The request is too large: a batch upload may be at most 4 MiB in all."
    )


def test_a_signed_in_browser_session_sends_a_batch_with_its_csrf_header(
    page_browser, owner, media_file, fake_inference, settings
):
    """The session's CSRF check reads the body before the view: the batch's handler, with its
    per-file size limit, must already be the one reading it."""
    small = media_file("small.png")
    big = media_file("big.mp4", seconds=2)
    settings.MAX_UPLOAD_SIZE = small.stat().st_size + 1024
    token = _csrf(page_browser)

    refused = page_browser.post(URL, _files(small))
    response = page_browser.post(URL, _files(big, small), headers={"X-CSRFToken": token})

    assert refused.status_code == 403
    assert response.status_code == 207, response.content
    results = response.json()["data"]["results"]
    assert [result["status"] for result in results] == [413, 202]
    assert [media.original_filename for media in Media.objects.filter(owner=owner)] == ["small.png"]
