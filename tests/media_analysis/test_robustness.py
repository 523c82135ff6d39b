"""The robustness check on real pipeline runs: a re-encoded copy is analysed beside the upload and
the media page says whether the verdict survived the re-encode."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfReader
from rest_framework.test import APIClient

from media_analysis.choices import RunStatus
from media_analysis.models import Media
from media_analysis.robustness import RobustnessState, robustness_summary
from tests.factories import UserFactory
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(client: APIClient, path, **fields):
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post("/api/v1/media", {"media": upload, **fields}, format="multipart")


def _both_final(media_id) -> Media | None:
    media = Media.objects.get(pk=media_id)
    copy = media.derived_copies.first()
    if media.status in RunStatus.final() and copy and copy.status in RunStatus.final():
        return media
    return None


def test_a_checked_upload_gets_a_reencoded_copy_analysed_and_a_stable_verdict(
    media_file, fake_inference_factory, pipeline_worker
):
    fake_inference_factory([FakeModel("MEL-SPECTROGRAM-CNN-V3", audio=True, confidence=0.9)])
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)

    response = _upload(client, media_file("voice.wav"), robustnessCheck="true")
    assert response.status_code == 202, response.content
    media = wait_for(lambda: _both_final(response.json()["data"]["id"]), timeout=60)

    copy = media.derived_copies.get()
    summary = robustness_summary(media=media)
    assert copy.file.name.endswith(".mp3") and copy.mimetype == "audio/mpeg"
    assert copy.derivation == "re-encoded as MP3 at 128 kb/s"
    assert copy.owner == user and copy.original_filename == "voice (re-encoded).mp3"
    assert summary.state == RobustnessState.STABLE and summary.stable is True
    assert "the same verdict (Likely deepfake)" in summary.text
    # The copy is shown with its upload, not as an upload of its own.
    listed = client.get("/api/v1/media?page=1").json()["data"]["results"]
    assert [item["id"] for item in listed] == [str(media.pk)]
    page = Client()
    page.force_login(user)
    html = page.get(f"/media/{media.pk}/").content.decode()
    assert 'data-robustness="STABLE"' in html and "Stable: re-encoded as MP3" in html


def test_a_verdict_that_a_reencode_flips_is_shown_as_unstable(
    media_file, fake_inference_factory, pipeline_worker
):
    # The same voice: "authentic" as WAV, "deepfake" once it is an MP3, as the issue saw it.
    fake_inference_factory(
        [
            FakeModel(
                "AUDIO-SPECTRUM-V1",
                audio=True,
                prediction="REAL",
                confidence=0.8,
                answers_by_extension={"mp3": ("FAKE", 0.8)},
            )
        ]
    )
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)

    response = _upload(client, media_file("voice.wav"), robustnessCheck="true")
    media = wait_for(lambda: _both_final(response.json()["data"]["id"]), timeout=60)

    detail = client.get(f"/api/v1/media/{media.pk}").json()["data"]
    assert detail["robustness"]["state"] == RobustnessState.UNSTABLE
    assert detail["robustness"]["stable"] is False
    assert detail["robustness"]["copyId"] == str(media.derived_copies.get().pk)
    assert "changes from Likely authentic to Likely deepfake" in detail["robustness"]["text"]
    page = Client()
    page.force_login(user)
    html = page.get(f"/media/{media.pk}/").content.decode()
    assert 'data-robustness="UNSTABLE"' in html and "do not rely on it" in html
    copy_page = page.get(f"/media/{detail['robustness']['copyId']}/").content.decode()
    assert "A robustness copy (re-encoded as MP3 at 128 kb/s)" in copy_page
    pdf = page.get(f"/api/v1/pdf/report/run/{media.latest_run_id}").content
    text = " ".join(
        " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages).split()
    )
    assert "Robustness check Unstable: re-encoded as MP3 at 128 kb/s" in text


def test_without_the_check_no_copy_is_made(media_file, fake_inference_factory, pipeline_worker):
    fake_inference_factory([FakeModel("MEL-SPECTROGRAM-CNN-V3", audio=True, confidence=0.9)])
    client = APIClient()
    client.force_authenticate(UserFactory())

    response = _upload(client, media_file("voice.wav"))
    media_id = response.json()["data"]["id"]
    media = wait_for(
        lambda: (m := Media.objects.get(pk=media_id)).status in RunStatus.final() and m
    )

    assert robustness_summary(media=media) is None
    assert Media.objects.count() == 1


def test_the_upload_page_offers_the_check(client):
    client.force_login(UserFactory())

    html = client.get("/upload/").content.decode()

    assert 'name="robustnessCheck"' in html
    assert "Also analyse a re-encoded copy (robustness check)" in html
