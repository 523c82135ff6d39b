"""The upload page: rules served from the server's own table, and the form that works without JS."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media_analysis.formats import accepted_formats_summary
from media_analysis.models import Media
from tests.pages.conftest import csrf_token, json_script

pytestmark = pytest.mark.django_db

UPLOAD = "/upload/"


def upload(browser, path, **fields):
    data = {"csrfmiddlewaretoken": csrf_token(browser, UPLOAD), **fields}
    with path.open("rb") as handle:
        return browser.post(UPLOAD, {**data, "media": handle})


def test_the_page_is_served_the_servers_rules_and_models(browser, settings, fake_inference):
    html = browser.get(UPLOAD).content.decode()

    rules = json_script(html, "upload-rules")
    assert rules["maxUploadSize"] == settings.MAX_UPLOAD_SIZE
    assert rules["formats"] == accepted_formats_summary()
    assert rules["mimetypes"]["mp4"] == "video/mp4"
    models = json_script(html, "upload-models")
    assert [model["name"] for model in models] == [m.name for m in fake_inference.models]
    assert all(model["video"] for model in models)
    assert 'accept=".mp4,' in html and 'enctype="multipart/form-data"' in html
    assert 'data-api-url="/api/v1/media"' in html
    assert 'id="upload-bar" max="100" value="0"' in html


def test_an_unreachable_inference_server_is_said_and_uploads_stay_possible(browser, inference_down):
    html = browser.get(UPLOAD).content.decode()

    assert "cannot be reached right now" in html
    assert json_script(html, "upload-models") == []
    assert 'type="file" name="media"' in html


def test_the_form_without_scripts_stores_the_file_and_opens_its_page(
    browser, owner, media_file, fake_inference
):
    clip = media_file("briefing.mp4")

    response = upload(browser, clip, description="From the wire", models=["SIGLIP-LSTM-V4"])

    media = Media.objects.get(owner=owner)
    assert response.status_code == 302 and response["Location"] == f"/media/{media.pk}/"
    assert media.original_filename == "briefing.mp4"
    assert media.description == "From the wire"
    assert media.latest_run.requested_models == ["SIGLIP-LSTM-V4"]


def test_an_unsupported_file_is_a_form_error(browser, tmp_path, fake_inference):
    note = tmp_path / "notes.txt"
    note.write_text("not media")

    response = upload(browser, note)

    assert response.status_code == 415
    html = response.content.decode()
    assert "Files with .txt are not accepted." in html and 'role="alert"' in html
    assert not Media.objects.exists()


def test_a_file_over_the_size_limit_is_a_form_error(browser, settings, media_file, inference_down):
    settings.MAX_UPLOAD_SIZE = 1024
    clip = media_file("long.mp4", seconds=2)

    response = upload(browser, clip)

    assert response.status_code == 413
    assert "upload limit" in response.content.decode()
    assert not Media.objects.exists()


def test_a_missing_file_is_a_field_error(browser, inference_down):
    response = browser.post(UPLOAD, {"csrfmiddlewaretoken": csrf_token(browser, UPLOAD)})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_the_upload_form_needs_the_csrf_token(browser, inference_down):
    response = browser.post(UPLOAD, {"media": SimpleUploadedFile("a.mp4", b"\x00" * 64)})

    assert response.status_code == 403
    assert not Media.objects.exists()
