"""The media page and its actions: re-analyse, edit the description, delete."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.models import AnalysisRun, Media
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, UserFactory
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import csrf_token, finished_run

pytestmark = pytest.mark.django_db


def page(media: Media) -> str:
    return f"/media/{media.pk}/"


def post(client: Client, media: Media, action: str, data: dict | None = None):
    token = csrf_token(client, page(media))
    return client.post(f"{page(media)}{action}/", {**(data or {}), "csrfmiddlewaretoken": token})


def test_media_page_shows_player_metadata_and_every_run(browser, video, fake_inference):
    finished_run(video, number=1)
    finished_run(video, number=2, failed=("EYEBLINK-CNN-LSTM-V1",))

    html = browser.get(page(video)).content.decode()

    assert f'<video controls preload="metadata" src="/api/v1/media/{video.pk}/file"' in html
    assert "<dt>Duration</dt><dd>2 min 5.4 s</dd>" in html
    assert "<dt>Resolution</dt><dd>1280 × 720 px</dd>" in html
    assert "<dt>Frame rate</dt><dd>25 fps</dd>" in html
    assert "<dt>Audio codec</dt><dd>aac</dd>" in html
    assert video.sha256 in html
    # Newest run first and open; older runs collapsed but present.
    panels = re.findall(
        r'<details class="run" data-run-id="[^"]+" data-run-status="(\w+)"'
        r' data-run-number="(\d)"( open)?>',
        html,
    )
    assert panels == [("PARTIALLY_ANALYZED", "2", " open"), ("ANALYZED", "1", "")]
    assert html.count("Download PDF") == 2
    for run in video.runs.all():
        assert f'href="/api/v1/pdf/report/run/{run.pk}"' in html
        assert f'href="/runs/{run.pk}/"' in html
    # Per-model rows: confidence, processing time; failures with their reason and attempts.
    assert "90.0 %" in html and "12.50 s" in html
    assert "no face found" in html and "after 2 attempts" in html
    assert f'href="/api/v1/media/{video.pk}/file?download=1"' in html
    # The re-analyse form offers the models the inference server has loaded.
    assert 'name="models" value="SIGLIP-LSTM-V4"' in html
    assert "data-confirm=" in html and '<dialog id="confirm-dialog"' in html


def test_an_active_run_shows_a_progress_bar_per_model_while_earlier_runs_stay(
    browser, video, fake_inference
):
    finished_run(video, number=1)
    run = AnalysisRunFactory(media=video, run_number=2, status=RunStatus.PROCESSING)
    DeepfakeAnalysisFactory(
        run=run, model_name="A-MODEL", status=AnalysisStatus.PROCESSING, progress=4, total=10
    )
    DeepfakeAnalysisFactory(run=run, model_name="B-MODEL", status=AnalysisStatus.PENDING)
    Media.objects.filter(pk=video.pk).update(latest_run=run, status=RunStatus.PROCESSING)

    html = browser.get(page(video)).content.decode()

    assert 'max="10" value="4" aria-label="Progress of A-MODEL"' in html
    assert (
        '<progress class="model-progress" data-cell="progress" aria-label="Progress of B-MODEL">'
        in html
    )
    assert "Run #1" in html and "Run #2" in html
    assert re.search(r"<button type=\"submit\" class=\"button button-primary\" disabled", html)
    assert f'data-progress-socket="/ws/progress/" data-media-id="{video.pk}"' in html


@pytest.mark.parametrize(
    ("media_type", "extension", "mimetype", "element"),
    [
        (MediaType.AUDIO, "wav", "audio/wav", "<audio controls"),
        (MediaType.IMAGE, "png", "image/png", '<img class="media-image"'),
    ],
)
def test_audio_and_images_get_their_own_viewer(
    browser, owner, inference_down, media_type, extension, mimetype, element
):
    media = stored_media(owner=owner, media_type=media_type, extension=extension, mimetype=mimetype)

    html = browser.get(page(media)).content.decode()

    assert element in html
    assert "cannot be reached right now" in html


def test_someone_elses_media_is_the_not_found_page(browser):
    foreign = stored_media(owner=UserFactory())

    response = browser.get(page(foreign))

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert browser.get("/media/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_actions_on_someone_elses_media_change_nothing(browser, fake_inference):
    foreign = stored_media(owner=UserFactory(), description="theirs")
    token = csrf_token(browser, "/")

    for action in ("analyze", "edit", "delete"):
        response = browser.post(
            f"/media/{foreign.pk}/{action}/",
            {"csrfmiddlewaretoken": token, "description": "mine now", "confirmed": "yes"},
        )
        assert response.status_code == 404

    foreign.refresh_from_db()
    assert foreign.description == "theirs" and not foreign.runs.exists()


def test_analyse_again_starts_the_next_run_with_the_chosen_models(browser, video, fake_inference):
    finished_run(video)

    response = post(browser, video, "analyze", {"models": ["COLOR-CUES-LSTM-V1"]})

    assert response.status_code == 302 and response["Location"] == page(video)
    run = AnalysisRun.objects.get(media=video, run_number=2)
    assert run.requested_models == ["COLOR-CUES-LSTM-V1"]
    assert list(run.analyses.values_list("model_name", flat=True)) == ["COLOR-CUES-LSTM-V1"]
    assert "Run #2 of interview.mp4 is queued." in browser.get(page(video)).content.decode()


def test_analyse_again_while_a_run_is_active_explains_why_not(browser, video, fake_inference):
    finished_run(video)
    AnalysisRunFactory(media=video, run_number=2, status=RunStatus.QUEUED)

    response = post(browser, video, "analyze", {"next": "/?status=QUEUED"})

    assert response["Location"] == "/?status=QUEUED"
    assert not AnalysisRun.objects.filter(run_number=3).exists()
    assert "already queued or running" in browser.get("/").content.decode()


def test_rerun_never_redirects_off_site(browser, video, fake_inference):
    finished_run(video)

    response = post(browser, video, "analyze", {"next": "https://evil.example/"})

    assert response["Location"] == page(video)


def test_editing_the_description_saves_it_and_returns(browser, video):
    response = post(browser, video, "edit", {"description": "  Cropped copy  ", "next": "/?page=2"})

    assert response.status_code == 302 and response["Location"] == "/?page=2"
    video.refresh_from_db()
    assert video.description == "Cropped copy"


def test_a_too_long_description_is_a_form_error(browser, video):
    response = post(browser, video, "edit", {"description": "x" * 501})

    assert response.status_code == 400
    assert "at most 500 characters" in response.content.decode()
    video.refresh_from_db()
    assert video.description == "Press conference, 12 May"


def test_every_action_needs_the_csrf_token(browser, video, fake_inference):
    for action in ("analyze", "edit", "delete"):
        response = browser.post(
            f"{page(video)}{action}/", {"description": "forged", "confirmed": "yes"}
        )
        assert response.status_code == 403

    video.refresh_from_db()
    assert video.description == "Press conference, 12 May" and not video.runs.exists()


def test_delete_asks_first_then_removes_rows_and_files(
    browser, video, django_capture_on_commit_callbacks
):
    finished_run(video)
    stored = video.file.name

    asked = post(browser, video, "delete", {"next": "/"})
    assert asked.status_code == 200
    assert "This cannot be undone." in asked.content.decode()
    assert Media.objects.filter(pk=video.pk).exists()

    # The stored file goes once the delete is committed.
    with django_capture_on_commit_callbacks(execute=True):
        done = post(browser, video, "delete", {"confirmed": "yes", "next": page(video)})

    assert done.status_code == 302 and done["Location"] == "/"
    assert not Media.objects.filter(pk=video.pk).exists()
    assert not AnalysisRun.objects.filter(media_id=video.pk).exists()
    assert not default_storage.exists(stored)
    assert "interview.mp4 and its analyses were deleted." in browser.get("/").content.decode()


def test_edit_page_without_scripts_shows_the_form(browser, video):
    html = browser.get(f"{page(video)}edit/").content.decode()

    assert 'name="description"' in html and "Press conference, 12 May" in html


def test_the_details_say_where_an_unprobed_upload_stands(browser, video):
    # Just uploaded: the worker has yet to probe it.
    Media.objects.filter(pk=video.pk).update(prepared_at=None, metadata={})
    run = AnalysisRunFactory(media=video, run_number=1, status=RunStatus.QUEUED)
    Media.objects.filter(pk=video.pk).update(latest_run=run, status=RunStatus.QUEUED)

    html = browser.get(page(video)).content.decode()

    assert "<dt>File check</dt><dd>Being checked: details and poster follow" in html
    assert "Checking the file, then asking the inference server for its models" in html

    # The probe refused it: the run says why, the details point there.
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        error_message="The file was refused: it is damaged, truncated or not a media file.",
    )
    Media.objects.filter(pk=video.pk).update(status=RunStatus.FAILED)

    html = browser.get(page(video)).content.decode()

    assert "<dt>File check</dt><dd>Refused: the reason is in the run below</dd>" in html
    assert "it is damaged, truncated or not a media file." in html

    # Probed: no such row.
    Media.objects.filter(pk=video.pk).update(prepared_at=video.created_at)

    assert "File check" not in browser.get(page(video)).content.decode()
