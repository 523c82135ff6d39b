"""What the PDF report holds beyond text: a name per run, the media's thumbnail, an image model's
heatmap and an audio model's spectrogram, each drawn only when there is something to draw."""

from __future__ import annotations

import datetime as dt
import io
import urllib.parse

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from pypdf import PdfReader
from rest_framework.test import APIClient

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.models import AnalysisRun, Media
from media_analysis.reports.pdf import (
    run_report_content_disposition,
    run_report_filename,
    run_report_pdf,
)
from media_analysis.reports.selectors import run_get_for_report
from tests.factories import (
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    MediaFactory,
    audio_result_payload,
    image_result_payload,
    video_result_payload,
)

pytestmark = pytest.mark.django_db


def _jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _run(media: Media, payload: dict | None, *, number: int = 1) -> AnalysisRun:
    run = AnalysisRunFactory(
        media=media,
        run_number=number,
        status=RunStatus.ANALYZED,
        verdict=Verdict.FAKE,
        fake_score=0.7,
        agreement=1.0,
    )
    if payload is not None:
        DeepfakeAnalysisFactory(
            run=run,
            model_name="MODEL-A",
            model_used="MODEL-A",
            status=AnalysisStatus.COMPLETED,
            prediction=payload["prediction"],
            confidence=payload["confidence"],
            processing_time=payload["processing_time"],
            media_type=str(payload["media_type"]).upper(),
            result_payload=payload,
        )
    return run


def _pdf(run: AnalysisRun) -> PdfReader:
    loaded = run_get_for_report(user=run.media.owner, run_id=run.id)
    return PdfReader(io.BytesIO(run_report_pdf(run=loaded)))


def _image_sizes(reader: PdfReader) -> list[tuple[int, int]]:
    sizes = []
    for page in reader.pages:
        resources = page["/Resources"].get_object()
        for xobject in resources.get("/XObject", {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Image":
                sizes.append((int(xobject["/Width"]), int(xobject["/Height"])))
    return sizes


def _text(reader: PdfReader) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


# --- file name ------------------------------------------------------------------------------------


def test_each_run_has_its_own_filename():
    media = MediaFactory(original_filename="My Clip (final).v2.mp4")
    first, second = _run(media, None, number=1), _run(media, None, number=2)
    AnalysisRun.objects.filter(pk__in=[first.pk, second.pk]).update(
        created_at=dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC)
    )
    first.refresh_from_db()
    second.refresh_from_db()

    assert run_report_filename(run=first) == "My_Clip_final_v2_run-1_20260309.pdf"
    assert run_report_filename(run=second) == "My_Clip_final_v2_run-2_20260309.pdf"


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name():
    media = MediaFactory(original_filename='Москва café";evil.mp4')
    run = _run(media, None, number=3)
    AnalysisRun.objects.filter(pk=run.pk).update(
        created_at=dt.datetime(2026, 1, 2, 8, 0, tzinfo=dt.UTC)
    )
    run.refresh_from_db()

    header = run_report_content_disposition(run=run)

    assert header.startswith('attachment; filename="')
    ascii_name = header.split('filename="')[1].split('"')[0]
    assert ascii_name.isascii() and ascii_name.endswith("_run-3_20260102.pdf")
    assert '"' not in ascii_name and ";" not in ascii_name
    encoded = header.split("filename*=UTF-8''")[1]
    assert urllib.parse.unquote(encoded) == "Москва_café_evil_run-3_20260102.pdf"
    assert header.isascii()


def test_the_api_download_is_named_per_run():
    media = MediaFactory(original_filename="briefing.mp4")
    run = _run(media, None, number=4)
    client = APIClient()
    client.force_authenticate(media.owner)

    response = client.get(f"/api/v1/pdf/report/run/{run.pk}")

    assert response.status_code == 200
    assert 'filename="briefing_run-4_' in response["Content-Disposition"]
    assert "filename*=UTF-8''briefing_run-4_" in response["Content-Disposition"]


# --- pictures -------------------------------------------------------------------------------------


def test_a_video_report_shows_the_thumbnail_downscaled(settings):
    settings.REPORT_IMAGE_MAX_PIXELS = 200
    media = MediaFactory(thumbnail=ContentFile(_jpeg((640, 360)), name="thumbnails/v.jpg"))

    reader = _pdf(_run(media, video_result_payload(frames=20)))

    assert _image_sizes(reader) == [(200, 113)]
    assert "Thumbnail of the analysed file." in _text(reader)


def test_without_a_thumbnail_there_is_no_picture_and_no_claim_of_one():
    reader = _pdf(_run(MediaFactory(), video_result_payload(frames=20)))

    assert _image_sizes(reader) == []
    assert "Thumbnail" not in _text(reader)


def test_an_image_report_shows_the_picture_and_the_heatmap_over_it(settings):
    settings.REPORT_IMAGE_MAX_PIXELS = 400
    media = MediaFactory(
        original_filename="photo.jpg",
        media_type=MediaType.IMAGE,
        mimetype="image/jpeg",
        file=ContentFile(_jpeg((320, 240)), name="images/photo.jpg"),
        thumbnail=ContentFile(_jpeg((320, 240)), name="thumbnails/photo.jpg"),
    )

    reader = _pdf(_run(media, image_result_payload(size=16)))

    # The thumbnail, and the heatmap drawn at the picture's size over it.
    assert _image_sizes(reader) == [(320, 240), (320, 240)]
    assert "Heatmap of the model's scores" in _text(reader)


def test_an_image_payload_without_heatmap_draws_none():
    payload = image_result_payload(size=16)
    del payload["heatmap_scores"]
    media = MediaFactory(
        media_type=MediaType.IMAGE,
        mimetype="image/jpeg",
        thumbnail=ContentFile(_jpeg(), name="thumbnails/p.jpg"),
    )

    reader = _pdf(_run(media, payload))

    assert len(_image_sizes(reader)) == 1  # the thumbnail only
    assert "Heatmap of the model's scores" not in _text(reader)


def test_an_audio_report_shows_the_spectrogram(settings):
    settings.REPORT_IMAGE_MAX_PIXELS = 300
    media = MediaFactory(original_filename="call.wav", media_type=MediaType.AUDIO)

    reader = _pdf(_run(media, audio_result_payload()))

    # 256 bins x 60 frames, stretched into the report's wide box.
    assert _image_sizes(reader) == [(300, 100)]
    assert "Spectrogram: time from left to right" in _text(reader)


def test_an_audio_payload_without_spectrogram_draws_none():
    payload = audio_result_payload()
    payload["visualization"] = {"spectrogram_url": None, "spectrogram_data": None}
    media = MediaFactory(media_type=MediaType.AUDIO)

    reader = _pdf(_run(media, payload))

    assert _image_sizes(reader) == []
    assert "Spectrogram: time" not in _text(reader)
