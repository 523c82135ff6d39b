"""The PDF run report: what it says, that its charts are really drawn, who may fetch it, and
that odd or incomplete runs still render."""

from __future__ import annotations

import datetime as dt
import io
import math
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from pypdf import PdfReader
from pypdf.generic import ContentStream

from accounts.models import Role
from drishtiksha.errors import NotFound
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.models import AnalysisRun
from media_analysis.pipeline.start import run_start
from media_analysis.reports import charts
from media_analysis.reports.pdf import run_report_filename, run_report_pdf
from media_analysis.reports.selectors import run_get_for_report
from media_analysis.results import (
    downsample,
    format_duration,
    frame_scores,
    risk_level,
    risk_rule_text,
    timeline_points,
)
from tests.factories import (
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    MediaFactory,
    UserFactory,
    audio_result_payload,
    image_result_payload,
    video_result_payload,
)
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db

VIDEO_MODELS = ["COLOR-CUES-LSTM-V1", "EFFICIENTNET-B7-V1", "SIGLIP-LSTM-V4"]
FAILED_MODEL = "LIP-FD-V1"
FRAMES = 300
VIDEO_METADATA = {
    "format": {"formatName": "mov,mp4,m4a", "duration": 125.5, "bitRate": 2_400_000, "size": 1},
    "video": {
        "codec": "h264",
        "width": 1280,
        "height": 720,
        "fps": 25.0,
        "bitRate": 2_200_000,
        "pixelFormat": "yuv420p",
        "frameCount": 3137,
    },
    "audio": {"codec": "aac", "sampleRate": 44100, "channels": 2, "bitRate": 128_000},
}


def _completed(run: AnalysisRun, model_name: str, payload: dict, **fields) -> None:
    DeepfakeAnalysisFactory(
        run=run,
        model_name=model_name,
        model_used=model_name,
        status=AnalysisStatus.COMPLETED,
        prediction=payload["prediction"],
        confidence=payload["confidence"],
        processing_time=payload["processing_time"],
        media_type=str(payload["media_type"]).upper(),
        result_payload=payload,
        attempts=1,
        **fields,
    )


@pytest.fixture
def video_run() -> AnalysisRun:
    """A finished video run: three models x 300 frame scores, and one model that failed."""
    media = MediaFactory(
        original_filename="press-conference-final.mp4",
        size=37_654_321,
        has_audio=True,
        metadata=VIDEO_METADATA,
        description="Clip sent by a reader <b>unverified</b> & urgent",
    )
    run = AnalysisRunFactory(
        media=media,
        run_number=2,
        status=RunStatus.PARTIALLY_ANALYZED,
        verdict=Verdict.FAKE,
        fake_score=0.71,
        agreement=2 / 3,
    )
    for number, name in enumerate(VIDEO_MODELS):
        prediction = "REAL" if number == 0 else "FAKE"
        _completed(
            run,
            name,
            video_result_payload(
                frames=FRAMES, phase=number, prediction=prediction, processing_time=4.0 + number
            ),
        )
    DeepfakeAnalysisFactory(
        run=run,
        model_name=FAILED_MODEL,
        status=AnalysisStatus.FAILED,
        error_message="Media could not be processed. Reason: <no audio track> & silent video",
        error_details={"status": 422, "correlationId": "c0ffee"},
        attempts=1,
    )
    return run


def _render(run: AnalysisRun) -> bytes:
    return run_report_pdf(run=run_get_for_report(user=run.media.owner, run_id=run.id))


def _text(pdf: bytes) -> str:
    """All text of the PDF with whitespace collapsed, so wrapped lines still match."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_video_report_states_verdict_risk_rule_models_and_metadata(video_run):
    pdf = _render(video_run)
    text = _text(pdf)

    reader = PdfReader(io.BytesIO(pdf))
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (595, 842)  # A4 in points

    assert "press-conference-final.mp4" in text
    assert "Run #2" in text
    assert str(video_run.id) in text and str(video_run.media_id) in text
    assert "Likely deepfake" in text
    assert "Fake score 71.0%" in text
    assert "Agreement 66.7%" in text
    assert "Risk level Elevated" in text
    assert _squash(risk_rule_text()) in text
    assert "3 completed, 1 failed (of 4)" in text
    for name in [*VIDEO_MODELS, FAILED_MODEL]:
        assert name in text
    # The old report got the duration wrong: 125.5 s is 2 min 5.5 s.
    assert "Duration 2 min 5.5 s" in text
    assert "1280 \u00d7 720 px" in text
    assert "25 fps" in text
    assert "44,100 Hz" in text
    assert "2 (stereo)" in text
    assert "37.7 MB (37,654,321 bytes)" in text
    assert video_run.media.sha256 in text


def test_user_text_is_escaped_not_interpreted_as_markup(video_run):
    text = _text(_render(video_run))

    assert "Clip sent by a reader <b>unverified</b> & urgent" in text
    assert "Reason: <no audio track> & silent video" in text


def test_failed_model_shows_its_error_attempts_and_details(video_run):
    text = _text(_render(video_run))

    failure = text[text.index(f"{FAILED_MODEL} Status Failed") :]
    assert "Failure Error Media could not be processed." in failure
    assert "Details › Correlation ID c0ffee" in failure


ELA_DESCRIPTION = (
    "Heuristic baseline, not a trained deepfake model. Measures the JPEG recompression residual; "
    "a wider residual spread maps to a higher fake probability. Fails on screenshots & re-saved "
    "files <often>."
)


def test_each_model_section_prints_the_stored_description_of_its_detector(video_run):
    video_run.analyses.filter(model_name=VIDEO_MODELS[1]).update(model_description=ELA_DESCRIPTION)

    text = _text(_render(video_run))

    section = text[text.index(f"{VIDEO_MODELS[1]} Status Completed") :]
    section = section[: section.index(VIDEO_MODELS[2])]
    assert f"About this detector: {ELA_DESCRIPTION}" in section
    # Models whose description is unknown get no empty heading.
    assert text.count("About this detector") == 1


def test_a_description_of_the_model_asked_for_says_so_after_a_fallback(video_run):
    video_run.analyses.filter(model_name=VIDEO_MODELS[1]).update(
        model_description=ELA_DESCRIPTION, model_used="FALLBACK-MODEL-V1"
    )

    text = _text(_render(video_run))

    assert (
        f"About this detector (the model asked for, not the one that answered): {ELA_DESCRIPTION}"
    ) in text


def test_the_description_from_the_servers_model_list_is_kept_with_the_run(
    fake_inference_factory, isolated_cache
):
    server = fake_inference_factory(
        [
            FakeModel("ELA-JPEG-V1", image=True, description=ELA_DESCRIPTION),
            FakeModel("SPECTRUM-V1", image=True),
            FakeModel("AUDIO-ONLY-V1", audio=True, description="Not for images."),
        ]
    )
    media = stored_media(
        owner=UserFactory(),
        media_type=MediaType.IMAGE,
        extension="jpg",
        mimetype="image/jpeg",
        original_filename="tip.jpg",
    )

    run = run_start(media=media)
    # The report is written from what was stored: the server need not be there any more.
    server.stop()

    assert dict(run.analyses.values_list("model_name", "model_description")) == {
        "ELA-JPEG-V1": ELA_DESCRIPTION,
        "SPECTRUM-V1": "Fake SPECTRUM-V1",
    }
    text = _text(_render(run))
    assert f"About this detector: {ELA_DESCRIPTION}" in text
    assert "About this detector: Fake SPECTRUM-V1" in text
    assert "Not for images." not in text


def test_model_details_show_fake_probability_and_statistics_over_every_frame(video_run):
    payload = video_run.analyses.get(model_name=VIDEO_MODELS[0]).result_payload
    scores = [frame["score"] for frame in payload["frame_predictions"]]
    suspicious = sum(1 for score in scores if score > 0.5)
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((score - mean) ** 2 for score in scores) / len(scores))

    text = _text(_render(video_run))
    section = text[text.index(f"{VIDEO_MODELS[0]} Status Completed") :]
    section = section[: section.index(VIDEO_MODELS[1])]

    # The first model said REAL with 80 % confidence: it counts as a 20 % fake probability.
    assert "Prediction Real" in section and "Fake probability 20.0%" in section
    assert f"Scores {FRAMES}" in section
    assert f"{suspicious} of {FRAMES} ({suspicious / FRAMES * 100:.1f}%)" in section
    assert f"Standard deviation {std:.4g}" in section
    assert f"Highest score {max(scores):.4g}" in section
    # Free-form metrics are printed under human labels, long lists summarised.
    assert "Rolling average of the fake scores 300 values: min" in section
    assert f"Suspicious frames {suspicious}" in section


def _operators(pdf: bytes) -> list[tuple[str, Counter]]:
    """(text, operator counts) per page, from the parsed page content streams."""
    reader = PdfReader(io.BytesIO(pdf))
    pages = []
    for page in reader.pages:
        stream = ContentStream(page.get_contents(), reader)
        counts = Counter(operator.decode() for _, operator in stream.operations)
        pages.append((" ".join((page.extract_text() or "").split()), counts))
    return pages


def test_charts_are_vector_drawings_with_downsampled_frame_lines(video_run):
    pages = _operators(_render(video_run))

    timeline_page = next(counts for text, counts in pages if "Frame scores along" in text)
    # One polyline per video model, each reduced to CHART_MAX_POINTS points (one path segment
    # per point after the first); far fewer than the 3 x 299 segments of the raw series.
    minimum = len(VIDEO_MODELS) * (charts.CHART_MAX_POINTS - 1)
    assert minimum <= timeline_page["l"] < len(VIDEO_MODELS) * (FRAMES - 1)

    chart_text = " ".join(text for text, _ in pages)
    assert "Confidence per model" in chart_text
    assert "REAL 80.0%" in chart_text and "FAKE 80.0%" in chart_text
    assert "Processing time per model" in chart_text and "6.00 s" in chart_text
    bar_pages = [counts for text, counts in pages if "Processing time (s)" in text]
    # Bars are filled rectangles: at least one per completed model in each bar chart.
    assert sum(counts["re"] for counts in bar_pages) >= 2 * len(VIDEO_MODELS)


def test_timeline_puts_windows_and_frames_on_the_same_scale():
    windows = frame_scores([{"index": i, "score": 0.5} for i in range(50)])
    frames = frame_scores([{"index": i, "score": 0.5} for i in range(0, 300, 6)])

    window_points = timeline_points(windows, frame_count=300)
    frame_points = timeline_points(frames, frame_count=300)

    assert window_points[0][0] == 0 and window_points[-1][0] == 100
    assert frame_points[-1][0] == pytest.approx(294 / 299 * 100)


def test_downsampling_keeps_a_short_spike():
    points = [(i / 50, 0.1) for i in range(5000)]
    points[1234] = (1234 / 50, 0.99)

    reduced = downsample(points, limit=charts.CHART_MAX_POINTS)

    assert len(reduced) <= charts.CHART_MAX_POINTS
    assert (1234 / 50, 0.99) in reduced
    assert reduced == sorted(reduced)


def test_audio_run_reports_pitch_energy_spectral_and_spectrogram_shape():
    media = MediaFactory(
        original_filename="voicemail.wav",
        media_type=MediaType.AUDIO,
        mimetype="audio/wav",
        metadata={
            "format": {"formatName": "wav", "duration": 2.0},
            "audio": {"codec": "pcm_s16le", "sampleRate": 16000, "channels": 1},
        },
    )
    run = AnalysisRunFactory(
        media=media, status=RunStatus.ANALYZED, verdict=Verdict.REAL, fake_score=0.3, agreement=1
    )
    _completed(run, "SCATTERING-WAVE-V1", audio_result_payload())
    one_dimensional = audio_result_payload(prediction="REAL", confidence=0.7)
    one_dimensional["visualization"] = {"spectrogram_data": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]}
    one_dimensional["energy"]["silence_ratio"] = -0.2
    _completed(run, "AUDIO-MFT-CRNN-V1", one_dimensional)

    text = _text(_render(run))

    assert "Likely authentic" in text and "Risk level Low" in text
    assert "Duration 2 s" in text
    assert "16,000 Hz" in text and "1 (mono)" in text
    assert "Pitch › Mean pitch (Hz) 150.5" in text
    assert "Energy › Loudness (RMS energy) 0.04" in text
    assert "Spectral › Spectral centroid (Hz) 1,830.2" in text
    assert "Spectrogram data 256 \u00d7 60 matrix" in text
    assert "Spectrogram data 1-D series of 7 values" in text
    assert "energy.silence_ratio is -0.2, outside the valid range 0-1" in text


def test_image_run_with_a_large_heatmap_reports_dimensions_and_heatmap_size():
    media = MediaFactory(
        original_filename="portrait.png",
        media_type=MediaType.IMAGE,
        mimetype="image/png",
        metadata={
            "format": {"formatName": "png_pipe"},
            "image": {"codec": "png", "width": 512, "height": 512, "pixelFormat": "rgb24"},
        },
    )
    run = AnalysisRunFactory(
        media=media,
        status=RunStatus.ANALYZED,
        verdict=Verdict.INCONCLUSIVE,
        fake_score=0.5,
        agreement=0,
    )
    _completed(run, "DISTIL-DIRE-V1", image_result_payload(size=512))

    text = _text(_render(run))

    assert "Inconclusive" in text and "Risk level Moderate" in text
    assert "Image: resolution 512 \u00d7 512 px" in text
    assert "Dimensions 512 \u00d7 512 px" in text
    assert "Heatmap 512 \u00d7 512 scores" in text
    assert "Duration" not in text


def test_failed_run_without_completed_analyses_renders_without_verdict():
    run = AnalysisRunFactory(status=RunStatus.FAILED, error_message="Every model failed.")
    for name in ("SIGLIP-LSTM-V4", "EYEBLINK-CNN-LSTM-V1"):
        DeepfakeAnalysisFactory(
            run=run, model_name=name, status=AnalysisStatus.FAILED, error_message="", attempts=4
        )

    text = _text(_render(run))

    assert "No verdict: no model completed" in text
    assert "Risk level Not assessed: there is no fake score" in text
    assert "0 completed, 2 failed (of 2)" in text
    assert "Run error Every model failed." in text
    assert "Error No message was recorded. Attempts 4" in text
    assert "No model reported frame-level scores." in text


def test_queued_run_without_analyses_renders():
    run = AnalysisRunFactory(status=RunStatus.QUEUED)

    text = _text(_render(run))

    assert "No verdict yet: the run is in progress" in text
    assert "No model was scheduled for this run." in text


def test_missing_metadata_and_malformed_payload_values_render_as_not_available():
    media = MediaFactory(original_filename="odd.mp4", metadata={}, size=0)
    run = AnalysisRunFactory(
        media=media, status=RunStatus.ANALYZED, verdict=Verdict.FAKE, fake_score=0.8, agreement=1
    )
    DeepfakeAnalysisFactory(
        run=run,
        model_name="NULLS-V1",
        status=AnalysisStatus.COMPLETED,
        prediction="FAKE",
        confidence=None,
        result_payload={
            "prediction": "FAKE",
            "confidence": None,
            "frame_count": None,
            "frame_predictions": [
                {"index": None, "score": 0.9},
                {"index": 3, "score": None},
                {"index": 4, "score": "high"},
                "not a frame",
                {"index": 7, "score": True},
            ],
            "metrics": {"nested": {"deeper": {"value": 1.23456}}, "empty": [], "flag": True},
            "dimensions": None,
            "visualization": None,
        },
    )
    DeepfakeAnalysisFactory(
        run=run, model_name="NO-PAYLOAD-V1", status=AnalysisStatus.COMPLETED, result_payload=None
    )
    DeepfakeAnalysisFactory(
        run=run, model_name="LIST-PAYLOAD-V1", status=AnalysisStatus.COMPLETED, result_payload=[1]
    )

    text = _text(_render(run))

    assert "No stream metadata was recorded for this file." in text
    assert "Duration Not available" in text
    assert "Scores 1" in text  # only the one usable frame score counts
    assert "Nested › Deeper › Value 1.235" in text
    assert "Empty (empty list)" in text and "Flag yes" in text
    assert "Spectrogram data None reported" in text
    assert "Dimensions Not available" in text


def test_unicode_filename_renders_and_gets_a_safe_download_name():
    media = MediaFactory(
        original_filename="\u0935\u0940\u0921\u093f\u092f\u094b-\U0001f600-café.mp4"
    )
    run = AnalysisRunFactory(media=media, status=RunStatus.QUEUED)
    AnalysisRun.objects.filter(pk=run.pk).update(
        created_at=dt.datetime(2025, 10, 12, 9, 30, tzinfo=dt.UTC)
    )
    run.refresh_from_db()

    text = _text(_render(run))

    assert "café.mp4" in text
    assert "cannot show are printed as '?'" in text
    assert run_report_filename(run=run) == f"cafe_run-{run.run_number}_20251012.pdf"


UNICODE_FILENAME = "Москва-Łódź-Αθήνα.mp4"
DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _fonts_used(pdf: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(pdf))
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        names |= {str(font.get_object()["/BaseFont"]) for font in fonts.values()}
    return names


def _queued_run(original_filename: str) -> AnalysisRun:
    return AnalysisRunFactory(
        media=MediaFactory(original_filename=original_filename), status=RunStatus.QUEUED
    )


def test_cyrillic_polish_and_greek_filenames_print_as_written_with_the_unicode_font(settings):
    assert DEJAVU_SANS.is_file(), "install fonts-dejavu-core (make test does it on Debian)"
    settings.REPORT_FONT_PATH = str(DEJAVU_SANS)
    settings.REPORT_FONT_BOLD_PATH = str(DEJAVU_SANS.with_name("DejaVuSans-Bold.ttf"))

    pdf = _render(_queued_run(UNICODE_FILENAME))

    text = _text(pdf)
    assert UNICODE_FILENAME in text
    assert "cannot show" not in text
    # Embedded as a subset ("AAAAAA+DejaVuSans"), regular and bold.
    assert {name.split("+")[-1] for name in _fonts_used(pdf)} >= {
        "DejaVuSans",
        "DejaVuSans-Bold",
    }


def test_without_a_unicode_font_the_builtin_fonts_fold_or_replace_what_they_lack(settings):
    settings.REPORT_FONT_PATH = ""

    pdf = _render(_queued_run(UNICODE_FILENAME))

    text = _text(pdf)
    assert "??????-?ódz-?????.mp4" in text
    assert "cannot show are printed as '?'" in text
    assert {"/Helvetica", "/Helvetica-Bold"} <= _fonts_used(pdf)


def test_an_unreadable_font_file_falls_back_to_the_builtin_fonts_with_a_warning(
    settings, tmp_path, caplog
):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    settings.REPORT_FONT_PATH = str(broken)

    pdf = _render(_queued_run("clip.mp4"))

    assert "clip.mp4" in _text(pdf)
    assert "/Helvetica" in _fonts_used(pdf)
    assert "broken.ttf cannot be used" in caplog.text


@pytest.mark.parametrize(
    ("original", "expected_stem"),
    [
        ("My Clip (final).v2.mp4", "My_Clip_final_v2"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\clip.mov", "clip"),
        ("interview--cut_2.webm", "interview--cut_2"),
        ("\u4e2d\u6587.png", "media"),
        ("a" * 200 + ".mp4", "a" * 60),
    ],
)
def test_report_filename_is_safe_and_dated_by_run_creation(original, expected_stem):
    stored = ContentFile(b"media", name="videos/stored.mp4")
    run = AnalysisRunFactory(media=MediaFactory(original_filename=original, file=stored))
    AnalysisRun.objects.filter(pk=run.pk).update(
        created_at=dt.datetime(2024, 2, 29, 23, 59, tzinfo=dt.UTC)
    )
    run.refresh_from_db()

    assert run_report_filename(run=run) == f"{expected_stem}_run-{run.run_number}_20240229.pdf"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (12.34, "12.3 s"),
        (125.5, "2 min 5.5 s"),
        (59.96, "1 min 0 s"),
        (3723.4, "1 h 2 min 3 s"),
        ("42", "42 s"),
        (None, "Not available"),
        (-1, "Not available"),
        (float("nan"), "Not available"),
    ],
)
def test_duration_is_formatted_from_seconds(seconds, expected):
    assert format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.9, "High"),
        (0.75, "High"),
        (0.7499, "Elevated"),
        (0.55, "Elevated"),
        (0.5, "Moderate"),
        (0.45, "Moderate"),
        (0.4499, "Low"),
        (0.0, "Low"),
        (None, None),
    ],
)
def test_risk_level_bands(score, level):
    assert risk_level(score) == level


def test_risk_thresholds_come_from_settings_and_are_printed(settings, video_run):
    settings.REPORT_RISK_HIGH = 0.7

    text = _text(_render(video_run))

    assert risk_rule_text().startswith("Risk level from the fake score: High at 70% or above")
    assert _squash(risk_rule_text()) in text
    assert "Risk level High" in text


def test_owner_and_staff_fetch_the_run_in_two_queries(video_run, django_assert_num_queries):
    staff = UserFactory(role=Role.ADMIN)

    for user in (video_run.media.owner, staff):
        with django_assert_num_queries(2):
            run = run_get_for_report(user=user, run_id=str(video_run.id))
            pdf = run_report_pdf(run=run)
        assert run == video_run
        assert [a.model_name for a in run.analyses.all()] == sorted([*VIDEO_MODELS, FAILED_MODEL])
        assert pdf.startswith(b"%PDF-")


@pytest.mark.parametrize("run_id", ["not-a-uuid", "", "123", None])
def test_malformed_run_id_is_not_found(run_id):
    with pytest.raises(NotFound, match="Run not found."):
        run_get_for_report(user=UserFactory(), run_id=run_id)


def test_someone_elses_or_unknown_run_is_not_found(video_run):
    with pytest.raises(NotFound, match="Run not found."):
        run_get_for_report(user=UserFactory(), run_id=video_run.id)
    with pytest.raises(NotFound, match="Run not found."):
        run_get_for_report(user=video_run.media.owner, run_id=uuid.uuid4())


def test_a_model_with_no_evidence_is_its_own_outcome_with_its_reason():
    run = AnalysisRunFactory(status=RunStatus.ANALYZED)
    DeepfakeAnalysisFactory(
        run=run,
        model_name="PROVENANCE-METADATA-V1",
        status=AnalysisStatus.ABSTAINED,
        abstain_reason="no provenance metadata found; its absence says nothing",
        prediction=None,
        confidence=None,
        attempts=1,
    )

    text = _text(_render(run))

    assert "No verdict: no model found evidence to judge by" in text
    assert "0 completed, 1 with no evidence, 0 failed (of 1)" in text
    explained = text[text.index("Models that found no evidence") :]
    assert "no provenance metadata found; its absence says nothing" in explained[:200]
    section = text[text.index("PROVENANCE-METADATA-V1 Status No evidence") :]
    assert "No evidence Reason no provenance metadata found; its absence says nothing" in section
    assert "Failure" not in section
