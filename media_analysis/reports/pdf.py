"""The PDF report of one analysis run: what a user hands to their editor.

It has to be correct, honest and readable on paper: the verdict and the rule behind it, the file's
metadata, every model's answer (failures included), charts, and a plain statement of what the
numbers do and do not mean. It is built with ReportLab, which is pure Python: no browser, no
system libraries, no network.

It prints with a Unicode TrueType font when one is configured (see `fonts`), else with the
built-in fonts, which cover Windows-1252 only. Either way every piece of user or model text goes
through `pdf_text` (characters the font lacks lose their accent or become "?") and, before it
enters Paragraph markup, through `markup` (escaped, bounded in length). Payloads are read and
numbers worded by `results`, as on the pages: a missing key, a null or a value of the wrong type
is shown as "Not available", never an exception. This module only lays out and draws.

The verdict, fake score and agreement are the run's stored values, computed once when the run
finished; the report only explains them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict
from media_analysis.explanations import verdict_explanation
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.reports import charts, figures
from media_analysis.reports.fonts import report_fonts
from media_analysis.results import (
    AUDIO_SECTIONS,
    MAX_DETAIL_ROWS,
    NOT_AVAILABLE,
    SUSPICIOUS_FRAME_SCORE,
    ModelResult,
    as_mapping,
    as_number,
    choice_label,
    describe_value,
    downsample,
    flatten,
    format_bitrate,
    format_bytes,
    format_datetime,
    format_duration,
    format_number,
    format_percent,
    format_seconds,
    format_threshold,
    frame_statistics,
    matrix_shape,
    risk_level,
    risk_rule_text,
    run_model_results,
    timeline_points,
    verdict_thresholds,
)
from media_analysis.robustness import robustness_summary

PAGE_MARGIN = 18 * mm
CONTENT_WIDTH = A4[0] - 2 * PAGE_MARGIN
FILENAME_STEM_MAX_LENGTH = 60
# One model's free text (a note, an error) is cut at this length so it cannot fill pages.
MAX_TEXT_CHARS = 1500
# A detector's description states its failure modes at the end: room for all of it.
MAX_DESCRIPTION_CHARS = 4000
AGREEMENT_RULE = (
    "Agreement is the weighted share of the contributing models whose own calibrated fake "
    "probability lies in the verdict's band (above, below or between the two thresholds)."
)

TEXT_COLOR = colors.HexColor("#111827")
MUTED_COLOR = colors.HexColor("#6b7280")
RULE_COLOR = colors.HexColor("#d1d5db")
HEADER_FILL = colors.HexColor("#f3f4f6")
VERDICT_FILLS = {
    Verdict.FAKE: colors.HexColor("#fdecea"),
    Verdict.REAL: colors.HexColor("#e9f7ef"),
    Verdict.INCONCLUSIVE: colors.HexColor("#fef5e7"),
}


@functools.cache
def _styles(regular: str, bold_font: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle(
        "body", fontName=regular, fontSize=9, leading=12.5, textColor=TEXT_COLOR, spaceAfter=4
    )
    bold = {"fontName": bold_font}
    return {
        "title": ParagraphStyle("title", parent=body, **bold, fontSize=20, leading=25),
        "subtitle": ParagraphStyle(
            "subtitle", parent=body, fontSize=12, leading=15, textColor=MUTED_COLOR, spaceAfter=10
        ),
        # Headings stay on the page of what they introduce.
        "h1": ParagraphStyle(
            "h1",
            parent=body,
            **bold,
            fontSize=14,
            leading=18,
            spaceBefore=12,
            spaceAfter=6,
            keepWithNext=1,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            **bold,
            fontSize=11,
            leading=14,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3", parent=body, **bold, fontSize=9, leading=12, spaceBefore=6, keepWithNext=1
        ),
        "body": body,
        "small": ParagraphStyle(
            "small", parent=body, fontSize=7.5, leading=9.5, textColor=MUTED_COLOR
        ),
        "caption": ParagraphStyle(
            "caption",
            parent=body,
            fontSize=7.5,
            leading=9.5,
            textColor=MUTED_COLOR,
            spaceAfter=6,
            keepWithNext=1,
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10, spaceAfter=0),
        "cell_bold": ParagraphStyle(
            "cell_bold", parent=body, **bold, fontSize=8, leading=10, spaceAfter=0
        ),
        "verdict": ParagraphStyle(
            "verdict", parent=body, **bold, fontSize=18, leading=22, spaceAfter=0
        ),
    }


# --- Text -----------------------------------------------------------------------------------------


def pdf_text(value: object) -> str:
    """`value` as text the report font can draw.

    Letters the font lacks lose their accent where that leaves something it has ("ő" -> "o");
    anything else it lacks (with DejaVu Sans: Devanagari, CJK) becomes "?". Tabs become spaces;
    other control characters are dropped.
    """
    text = unicodedata.normalize("NFC", str(value))
    if text.isascii() and text.isprintable():
        return text
    fonts = report_fonts()
    out = []
    for char in text:
        if char == "\n":
            out.append(char)
            continue
        if char in "\t\r":
            out.append(" ")
            continue
        if unicodedata.category(char).startswith("C"):
            continue
        if fonts.draws(char):
            out.append(char)
        else:
            folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(folded or "?")
    return "".join(out)


def markup(value: object, *, limit: int = MAX_TEXT_CHARS) -> str:
    """`value` made safe for Paragraph markup: font-safe, escaped, bounded, line breaks kept."""
    text = pdf_text(value)
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\n", "<br/>")


# --- Assembling the report data -------------------------------------------------------------------


@dataclass(frozen=True)
class _Report:
    run: AnalysisRun
    models: list[ModelResult]
    generated_at: datetime
    report_id: str

    def count(self, status: str) -> int:
        return sum(1 for model in self.models if model.analysis.status == status)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _report_id(run: AnalysisRun, analyses: list[DeepfakeAnalysis]) -> str:
    """The run id plus a hash of what the report shows: same data, same id.

    Built from row timestamps and headline fields rather than the payloads, which can be
    megabytes (image heatmaps) and change only together with `updated_at`.
    """
    fingerprint = [
        str(run.id),
        run.status,
        run.verdict,
        run.fake_score,
        run.agreement,
        _iso(run.finished_at),
        _iso(run.updated_at),
        [
            [str(a.id), a.status, a.prediction, a.confidence, a.attempts, _iso(a.updated_at)]
            for a in analyses
        ],
    ]
    digest = hashlib.sha256(json.dumps(fingerprint, default=str).encode()).hexdigest()
    return f"{run.id}-{digest[:8]}"


def _collect(run: AnalysisRun) -> _Report:
    models = run_model_results(run=run)
    return _Report(
        run=run,
        models=models,
        generated_at=timezone.now(),
        report_id=_report_id(run, [model.analysis for model in models]),
    )


# --- Layout helpers -------------------------------------------------------------------------------


def _paragraph(text: str, style: str = "cell") -> Paragraph:
    """A Paragraph from markup that is already safe (built here or passed through `markup`)."""
    fonts = report_fonts()
    return Paragraph(text, _styles(fonts.regular, fonts.bold)[style])


def _table(
    rows: list[list[Flowable | str]],
    widths: list[float],
    *,
    header: bool = False,
    extra: list[tuple] | None = None,
) -> Table:
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE_COLOR),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL))
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    table.setStyle(TableStyle(style + (extra or [])))
    return table


def _key_values(rows: list[tuple[str, str]], *, key_width: float = 130) -> Table:
    """A two-column table of label and value; values are markup that is already safe."""
    return _table(
        [[_paragraph(markup(key), "cell_bold"), _paragraph(value)] for key, value in rows],
        [key_width, CONTENT_WIDTH - key_width],
    )


def _key_values_grid(rows: list[tuple[str, str]], *, key_width: float = 92) -> Table:
    """Label/value pairs two to a line, for the short facts of one model."""
    value_width = CONTENT_WIDTH / 2 - key_width
    cells: list[list[Flowable | str]] = []
    for start in range(0, len(rows), 2):
        line: list[Flowable | str] = []
        for key, value in rows[start : start + 2]:
            line += [_paragraph(markup(key), "cell_bold"), _paragraph(value)]
        cells.append(line + ["", ""] * (2 - len(line) // 2))
    return _table(cells, [key_width, value_width] * 2)


def _flattened_table(data: object, *, prefix: str = "") -> list[Flowable]:
    rows, truncated = flatten(data, prefix=prefix)
    if not rows:
        return []
    flowables: list[Flowable] = [_key_values([(key, markup(value)) for key, value in rows])]
    if truncated:
        flowables.append(
            _paragraph(f"Only the first {MAX_DETAIL_ROWS} entries are shown.", "small")
        )
    return flowables


# --- Sections -------------------------------------------------------------------------------------


def _cover(report: _Report) -> list[Flowable]:
    run, media = report.run, report.run.media
    filename = media.original_filename or ""
    flowables: list[Flowable] = [
        _paragraph("Deepfake analysis report", "title"),
        _paragraph(markup(filename) or "Untitled media", "subtitle"),
        _key_values(
            [
                ("Original filename", markup(filename) or NOT_AVAILABLE),
                ("Media type", markup(choice_label(MediaType, media.media_type))),
                ("Media id", str(media.id)),
                ("Run", f"Run #{run.run_number} ({markup(choice_label(RunStatus, run.status))})"),
                ("Run id", str(run.id)),
                ("Uploaded", format_datetime(media.created_at)),
                ("Run created", format_datetime(run.created_at)),
                ("Run started", format_datetime(run.started_at)),
                ("Run finished", format_datetime(run.finished_at)),
                ("Report generated", format_datetime(report.generated_at)),
                ("Report id", report.report_id),
            ]
        ),
    ]
    if pdf_text(filename) != unicodedata.normalize("NFC", filename):
        flowables.append(
            _paragraph(
                "Characters of the filename that the report font cannot show are printed as "
                "'?' or without their accents; the media id and SHA-256 identify the file.",
                "small",
            )
        )
    return flowables


def _verdict_box(run: AnalysisRun, completed: int, abstained: int) -> Table:
    if run.verdict:
        label = choice_label(Verdict, run.verdict)
    elif run.status in RunStatus.active():
        label = "No verdict yet: the run is in progress"
    elif completed == 0 and abstained:
        label = "No verdict: no model found evidence to judge by"
    elif completed == 0:
        label = "No verdict: no model completed"
    else:
        label = "No verdict recorded"
    fill = VERDICT_FILLS.get(run.verdict, HEADER_FILL)
    box = Table([[_paragraph(markup(label), "verdict")]], colWidths=[CONTENT_WIDTH])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), fill),
                ("BOX", (0, 0), (-1, -1), 0.8, RULE_COLOR),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    return box


def _summary(report: _Report) -> list[Flowable]:
    run = report.run
    completed = report.count(AnalysisStatus.COMPLETED)
    abstained = report.count(AnalysisStatus.ABSTAINED)
    failed = report.count(AnalysisStatus.FAILED)
    unfinished = len(report.models) - completed - abstained - failed
    fake_score = as_number(run.fake_score)
    risk = risk_level(fake_score)
    models_line = f"{completed} completed"
    if abstained:
        models_line += f", {abstained} with no evidence"
    models_line += f", {failed} failed"
    if unfinished:
        models_line += f", {unfinished} not finished"
    models_line += f" (of {len(report.models)})"
    rows = [
        ("Verdict", markup(choice_label(Verdict, run.verdict, empty="No verdict"))),
        ("Fake score", format_percent(fake_score)),
        ("Agreement", format_percent(run.agreement)),
        ("Risk level", risk or "Not assessed: there is no fake score"),
        ("Models", models_line),
        ("Run status", markup(choice_label(RunStatus, run.status))),
    ]
    if run.error_message:
        rows.append(("Run error", markup(run.error_message)))
    if robustness := robustness_summary(media=run.media):
        rows.append(("Robustness check", markup(robustness.text)))

    flowables: list[Flowable] = [
        _paragraph("Executive summary", "h1"),
        _verdict_box(run, completed, abstained),
        Spacer(1, 6),
        _key_values(rows),
        Spacer(1, 4),
        _paragraph(markup(risk_rule_text()), "body"),
    ]
    flowables.extend(_explanation(run, [model.analysis for model in report.models]))
    return flowables


def _explanation(run: AnalysisRun, analyses: list[DeepfakeAnalysis]) -> list[Flowable]:
    """What the verdict means and how far to trust it, as on the run page (`explanations`)."""
    explained = verdict_explanation(run=run, analyses=analyses)
    flowables = [
        _paragraph("What this verdict means", "h2"),
        _paragraph(markup(explained.meaning), "body"),
    ]
    if explained.reason:
        flowables.append(_paragraph(markup(f"Why: {explained.reason}"), "body"))
    flowables.append(_paragraph(markup(f"{explained.thresholds} {explained.inconclusive}"), "body"))
    if explained.abstentions:
        rows = [(markup(name), markup(reason)) for name, reason in explained.abstentions]
        flowables += [_paragraph("Models that found no evidence", "h3"), _key_values(rows)]
    if explained.reliability:
        rows = [(markup(note.model_name), markup(note.text)) for note in explained.reliability]
        flowables += [_paragraph("How reliable each model is", "h3"), _key_values(rows)]
    if explained.limits:
        rows = [(markup(name), markup(sentence)) for name, sentence in explained.limits]
        flowables += [_paragraph("Limits stated by the models", "h3"), _key_values(rows)]
    flowables.append(
        _paragraph("Methodology and limitations are set out at the end of this report.", "body")
    )
    return flowables


def _media_section(report: _Report) -> list[Flowable]:
    media = report.run.media
    metadata = as_mapping(media.metadata)
    fmt = as_mapping(metadata.get("format"))
    rows = [
        ("MIME type", markup(media.mimetype or NOT_AVAILABLE)),
        ("File size", format_bytes(media.size)),
        ("Container", markup(fmt.get("formatName") or NOT_AVAILABLE)),
    ]
    if media.media_type != MediaType.IMAGE:
        rows.append(("Duration", format_duration(fmt.get("duration"))))
        rows.append(("Overall bit rate", format_bitrate(fmt.get("bitRate"))))
    if media.media_type == MediaType.VIDEO:
        has_audio = {True: "yes", False: "no"}.get(media.has_audio, NOT_AVAILABLE)
        rows.append(("Audio track", has_audio))

    for key, title in (("video", "Video stream"), ("image", "Image")):
        stream = metadata.get(key)
        if not isinstance(stream, dict):
            continue
        width, height = (
            as_number(stream.get("width")),
            as_number(stream.get("height")),
        )
        resolution = f"{width:.0f} \u00d7 {height:.0f} px" if width and height else NOT_AVAILABLE
        rows.append((f"{title}: codec", markup(stream.get("codec") or NOT_AVAILABLE)))
        rows.append((f"{title}: resolution", resolution))
        if key == "video":
            fps = as_number(stream.get("fps"))
            rows.append((f"{title}: frame rate", f"{fps:g} fps" if fps else NOT_AVAILABLE))
            rows.append((f"{title}: frames", format_number(stream.get("frameCount"))))
            rows.append((f"{title}: bit rate", format_bitrate(stream.get("bitRate"))))
        rows.append((f"{title}: pixel format", markup(stream.get("pixelFormat") or NOT_AVAILABLE)))

    audio = metadata.get("audio")
    if isinstance(audio, dict):
        sample_rate = as_number(audio.get("sampleRate"))
        channels = as_number(audio.get("channels"))
        layout = {1: " (mono)", 2: " (stereo)"}.get(int(channels) if channels else 0, "")
        rows += [
            ("Audio stream: codec", markup(audio.get("codec") or NOT_AVAILABLE)),
            (
                "Audio stream: sample rate",
                f"{format_number(sample_rate)} Hz" if sample_rate else NOT_AVAILABLE,
            ),
            (
                "Audio stream: channels",
                f"{format_number(channels)}{layout}" if channels else NOT_AVAILABLE,
            ),
            ("Audio stream: bit rate", format_bitrate(audio.get("bitRate"))),
        ]
    rows.append(("SHA-256", f'<font name="Courier">{markup(media.sha256 or NOT_AVAILABLE)}</font>'))
    if media.description:
        rows.append(("Description", markup(media.description)))

    flowables: list[Flowable] = [_paragraph("Media and stream metadata", "h1")]
    picture = _picture(figures.media_picture_jpeg(media), max_height=70 * mm)
    if picture is not None:
        flowables += [picture, _paragraph("Thumbnail of the analysed file.", "small")]
    flowables.append(_key_values(rows))
    if not metadata:
        flowables.append(_paragraph("No stream metadata was recorded for this file.", "small"))
    return flowables


def _picture(jpeg: bytes | None, *, max_height: float) -> Image | None:
    """A JPEG scaled to fit the content width and `max_height`, keeping its proportions."""
    if not jpeg:
        return None
    image = Image(io.BytesIO(jpeg))
    scale = min(CONTENT_WIDTH / image.imageWidth, max_height / image.imageHeight)
    image.drawWidth = image.imageWidth * scale
    image.drawHeight = image.imageHeight * scale
    image.hAlign = "LEFT"
    return image


def _comparison_section(report: _Report) -> list[Flowable]:
    header = ["Model", "Model used", "Status", "Prediction", "Confidence", "Time", "Attempts"]
    rows: list[list[Flowable | str]] = [[_paragraph(title, "cell_bold") for title in header]]
    for model in report.models:
        analysis = model.analysis
        used = analysis.model_used
        rows.append(
            [
                _paragraph(markup(analysis.model_name)),
                _paragraph(
                    "-" if not used else "same" if used == analysis.model_name else markup(used)
                ),
                _paragraph(markup(choice_label(AnalysisStatus, analysis.status))),
                _paragraph(markup(choice_label(Prediction, analysis.prediction, empty="-"))),
                _paragraph(format_percent(analysis.confidence) if analysis.prediction else "-"),
                _paragraph(format_seconds(model.processing_time)),
                _paragraph(str(analysis.attempts)),
            ]
        )
    flowables: list[Flowable] = [_paragraph("Model comparison", "h1")]
    if not report.models:
        flowables.append(_paragraph("No model was scheduled for this run.", "body"))
        return flowables
    flowables.append(_table(rows, [120, 78, 58, 56, 62, 66, 53], header=True))
    return flowables


def _chart_block(title: str, caption: str, drawing: Flowable) -> list[Flowable]:
    # Heading and caption keep with the drawing (and a section heading before them with all three).
    return [_paragraph(title, "h2"), _paragraph(markup(caption), "caption"), drawing]


def _charts_section(report: _Report) -> list[Flowable]:
    flowables: list[Flowable] = [CondPageBreak(120), _paragraph("Charts", "h1")]

    series = [
        charts.Series(
            label=pdf_text(model.analysis.model_name),
            points=downsample(
                timeline_points(model.scores, frame_count=model.payload.get("frame_count")),
                limit=charts.CHART_MAX_POINTS,
            ),
        )
        for model in report.models
        if model.scores
    ]
    if series:
        caption = (
            "Each line is one model's score per frame or window, placed by its position in the "
            "media so that models sampling differently line up. Long series are reduced to "
            f"{charts.CHART_MAX_POINTS} points keeping each stretch's highest and lowest score; "
            "the statistics in the model details use every score."
        )
        flowables.extend(
            _chart_block(
                "Frame scores along the media",
                caption,
                charts.timeline_chart(series, width=CONTENT_WIDTH),
            )
        )
    else:
        flowables.append(_paragraph("No model reported frame-level scores.", "body"))

    confidence_rows = [
        (pdf_text(model.analysis.model_name), model.analysis.prediction, confidence)
        for model in report.models
        if (confidence := model.prediction_confidence) is not None
    ]
    if confidence_rows:
        flowables.extend(
            _chart_block(
                "Confidence per model",
                "Confidence is the probability a model gives to its own prediction.",
                charts.confidence_chart(confidence_rows, width=CONTENT_WIDTH),
            )
        )

    time_rows = [
        (pdf_text(model.analysis.model_name), seconds, model.completed)
        for model in report.models
        if (seconds := model.processing_time) is not None
    ]
    if time_rows:
        flowables.extend(
            _chart_block(
                "Processing time per model",
                "Seconds the inference server spent on each model.",
                charts.processing_time_chart(time_rows, width=CONTENT_WIDTH),
            )
        )
    return flowables


def _frame_rows(model: ModelResult) -> list[tuple[str, str]]:
    payload = model.payload
    rows = [
        ("Frames in media", format_number(payload.get("frame_count"))),
        ("Frames analysed", format_number(payload.get("frames_analyzed"))),
    ]
    stats = frame_statistics([score for _, score in model.scores])
    if stats is None:
        rows.append(("Frame scores", "None reported"))
        return rows
    rows += [
        ("Scores", format_number(stats.count)),
        ("Mean score", format_number(stats.mean)),
        ("Highest score", format_number(stats.maximum)),
        ("Lowest score", format_number(stats.minimum)),
        ("Standard deviation", format_number(stats.std)),
        (
            f"Suspicious (score above {SUSPICIOUS_FRAME_SCORE:g})",
            f"{stats.suspicious:,} of {stats.count:,} ({format_percent(stats.suspicious_share)})",
        ),
    ]
    return rows


def _audio_flowables(payload: dict) -> list[Flowable]:
    flowables: list[Flowable] = []
    for section in AUDIO_SECTIONS:
        flowables += _flattened_table(payload.get(section), prefix=section)
    for section in AUDIO_SECTIONS:
        for key, value in as_mapping(payload.get(section)).items():
            number = as_number(value)
            if str(key).endswith("_ratio") and number is not None and not 0 <= number <= 1:
                flowables.append(
                    _paragraph(
                        markup(
                            f"{section}.{key} is {format_number(number)}, outside the valid "
                            "range 0-1; it is shown as the model reported it."
                        ),
                        "small",
                    )
                )
    spectrogram = as_mapping(payload.get("visualization")).get("spectrogram_data")
    shape = matrix_shape(spectrogram)
    if shape:
        rows, columns, ragged = shape
        text = f"{rows:,} \u00d7 {columns:,} matrix{' (rows of unequal length)' if ragged else ''}"
    elif isinstance(spectrogram, list) and spectrogram:
        text = f"1-D series of {len(spectrogram):,} values: {describe_value(spectrogram)}"
    else:
        text = "None reported"
    flowables.append(_key_values([("Spectrogram data", markup(text))]))
    picture = _picture(figures.spectrogram_jpeg(data=spectrogram), max_height=55 * mm)
    if picture is not None:
        flowables += [
            picture,
            _paragraph("Spectrogram: time from left to right, lowest row at the bottom.", "small"),
        ]
    return flowables


def _image_flowables(payload: dict, media: Media) -> list[Flowable]:
    dimensions = as_mapping(payload.get("dimensions"))
    width, height = (
        as_number(dimensions.get("width")),
        as_number(dimensions.get("height")),
    )
    shape = matrix_shape(payload.get("heatmap_scores"))
    if shape:
        rows, columns, ragged = shape
        heatmap = (
            f"{rows:,} \u00d7 {columns:,} scores{' (rows of unequal length)' if ragged else ''}"
        )
    else:
        heatmap = "None reported"
    flowables: list[Flowable] = [
        _key_values(
            [
                (
                    "Dimensions",
                    f"{width:.0f} \u00d7 {height:.0f} px" if width and height else NOT_AVAILABLE,
                ),
                ("Heatmap", heatmap),
            ]
        )
    ]
    picture = _picture(
        figures.heatmap_jpeg(scores=payload.get("heatmap_scores"), media=media),
        max_height=80 * mm,
    )
    if picture is not None:
        flowables += [
            picture,
            _paragraph("Heatmap of the model's scores, from blue (0) to red (1).", "small"),
        ]
    return flowables


def _model_section(model: ModelResult, media: Media) -> list[Flowable]:
    analysis, payload = model.analysis, model.payload
    media_type = analysis.media_type or str(payload.get("media_type") or "").upper()
    rows = [
        ("Status", markup(choice_label(AnalysisStatus, analysis.status))),
        ("Processing time", format_seconds(model.processing_time)),
        ("Prediction", markup(choice_label(Prediction, analysis.prediction))),
        ("Model used", markup(analysis.model_used or NOT_AVAILABLE)),
        ("Confidence", format_percent(analysis.confidence)),
        ("Media type", markup(choice_label(MediaType, media_type))),
        ("Fake probability", format_percent(model.fake_probability)),
        ("Attempts", str(analysis.attempts)),
    ]
    flowables: list[Flowable] = [
        _paragraph(markup(analysis.model_name), "h2"),
        _key_values_grid(rows),
    ]
    if analysis.model_description:
        # Stored with the run, so the text is the one the server gave for the model asked for;
        # after a fallback it does not describe the model that answered, and says so.
        about = (
            " (the model asked for, not the one that answered)"
            if analysis.model_used and analysis.model_used != analysis.model_name
            else ""
        )
        description = markup(analysis.model_description, limit=MAX_DESCRIPTION_CHARS)
        flowables.append(_paragraph(f"<b>About this detector{about}:</b> {description}", "body"))
    if payload.get("note"):
        flowables.append(_paragraph(f"<b>Note:</b> {markup(payload['note'])}", "body"))

    subsections: list[tuple[str, list[Flowable]]] = []
    if analysis.status == AnalysisStatus.ABSTAINED:
        reason = markup(analysis.abstain_reason or "No reason was given.")
        subsections.append(
            (
                "No evidence",
                [
                    _key_values([("Reason", reason)]),
                    _paragraph("This model made no prediction and does not count.", "small"),
                ],
            )
        )
    if analysis.status == AnalysisStatus.FAILED or analysis.error_message:
        error_rows = [
            ("Error", markup(analysis.error_message or "No message was recorded.")),
            ("Attempts", str(analysis.attempts)),
        ]
        subsections.append(
            (
                "Failure",
                [
                    _key_values(error_rows),
                    *_flattened_table(analysis.error_details, prefix="details"),
                ],
            )
        )
    if "frame_predictions" in payload or model.scores:
        subsections.append(("Frame statistics", [_key_values_grid(_frame_rows(model))]))
    metrics = _flattened_table(payload.get("metrics"))
    if metrics:
        subsections.append(("Metrics", metrics))
    if any(key in payload for key in (*AUDIO_SECTIONS, "visualization")):
        subsections.append(("Audio analysis", _audio_flowables(payload)))
    if "dimensions" in payload or "heatmap_scores" in payload:
        subsections.append(("Image analysis", _image_flowables(payload, media)))
    for title, content in subsections:
        flowables.append(KeepTogether([_paragraph(title, "h3"), *content]))
    return flowables


def _details_section(report: _Report) -> list[Flowable]:
    flowables: list[Flowable] = [CondPageBreak(150), _paragraph("Model details", "h1")]
    if not report.models:
        flowables.append(_paragraph("No model was scheduled for this run.", "body"))
    for model in report.models:
        flowables += _model_section(model, report.run.media)
        flowables.append(Spacer(1, 6))
    return flowables


def _methodology_section() -> list[Flowable]:
    fake_above, real_below = verdict_thresholds()
    paragraphs = [
        "Each detector analyses the file on its own and answers REAL or FAKE with a confidence: "
        "the probability it gives to that answer. Video detectors also score individual frames "
        "or windows of frames.",
        "The verdict averages a fake probability over the models that completed: a FAKE answer "
        "counts as its confidence, a REAL answer as one minus its confidence. A model measured "
        "on a labelled evaluation set of this media type is calibrated by what it scored there "
        "and weighted by how well it separated real from fake (a model no better than chance "
        "weighs nothing); a model never measured is 'unvalidated' and counts with a default "
        "weight. A weighted mean above "
        f"{format_threshold(fake_above)} gives 'Likely deepfake', below "
        f"{format_threshold(real_below)} 'Likely authentic', and anything in between, bounds "
        "included, 'Inconclusive', as does a run where no model found usable evidence. Failed "
        "models and models with no evidence do not count. " + AGREEMENT_RULE,
        risk_rule_text()
        + " The risk level restates the fake score in words; it adds no information.",
        "Frame positions are shown as a percentage of each model's own range of frame or window "
        "numbers. A frame counts as suspicious when its score is above "
        f"{SUSPICIOUS_FRAME_SCORE:g}.",
    ]
    limitations = [
        "Detectors can be wrong in both directions. Compression, re-encoding, filters, low "
        "light or unusual faces can make authentic media look manipulated, and manipulation "
        "methods a model never saw can pass as authentic.",
        "Some deployments run heuristic baseline detectors, which measure signal properties "
        "such as compression traces or spectra. They are not trained deepfake models and their "
        "scores are weak evidence on their own; the model names, descriptions and notes above say "
        "what ran.",
        "A verdict is a probability, not proof. Use it together with provenance, context and "
        "expert review, never as the only basis for a decision.",
        "This report reflects one run at one point in time. Models change; analysing the same "
        "file again creates a new run whose results can differ. The SHA-256 above identifies "
        "the exact file that was analysed.",
    ]
    return [
        CondPageBreak(150),
        _paragraph("Methodology", "h1"),
        *[_paragraph(markup(text), "body") for text in paragraphs],
        _paragraph("Limitations", "h1"),
        *[_paragraph(markup(text), "body") for text in limitations],
    ]


# --- Pages ----------------------------------------------------------------------------------------


class _ReportCanvas(Canvas):
    """A canvas that writes the header and "page x of y" footer once the page count is known."""

    def __init__(self, *args, header: str, footer: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._header = header
        self._footer = footer
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = self._pagesize
        self.saveState()
        self.setFont(report_fonts().regular, 7.5)
        self.setFillColor(MUTED_COLOR)
        self.setStrokeColor(RULE_COLOR)
        self.drawString(PAGE_MARGIN, height - 12 * mm, self._header)
        self.line(PAGE_MARGIN, height - 13.5 * mm, width - PAGE_MARGIN, height - 13.5 * mm)
        self.line(PAGE_MARGIN, 12.5 * mm, width - PAGE_MARGIN, 12.5 * mm)
        self.drawString(PAGE_MARGIN, 9 * mm, self._footer)
        self.drawRightString(width - PAGE_MARGIN, 9 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()


def _filename_stem(run: AnalysisRun) -> str:
    base = re.split(r"[\\/]", run.media.original_filename or "")[-1]
    return unicodedata.normalize("NFC", PurePosixPath(base).stem)


def _filename_suffix(run: AnalysisRun) -> str:
    created = timezone.localtime(run.created_at or timezone.now())
    return f"_run-{run.run_number}_{created:%Y%m%d}.pdf"


def run_report_filename(*, run: AnalysisRun) -> str:
    """`<name>_run-<n>_<YYYYMMDD>.pdf` in ASCII, safe in any header, shell or file system.

    The run number keeps the reports of one file apart; the date is the run's creation.
    """
    # Accents are dropped ("café" -> "cafe"); characters with no ASCII form become "_".
    ascii_stem = "".join(
        unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "_"
        for char in _filename_stem(run)
    )
    safe = re.sub(r"[-_]*_[-_]*", "_", re.sub(r"[^A-Za-z0-9_-]", "_", ascii_stem))
    safe = safe.strip("-_")[:FILENAME_STEM_MAX_LENGTH].strip("-_") or "media"
    return f"{safe}{_filename_suffix(run)}"


def run_report_unicode_filename(*, run: AnalysisRun) -> str:
    """The filename with the original's letters kept (for `filename*`): only characters that
    are unsafe in a file name or header become "_"."""
    stem = re.sub(r"[\x00-\x1f\x7f\"*:<>?|\\/;%\s]+", "_", _filename_stem(run))
    stem = stem.strip("._-")[:FILENAME_STEM_MAX_LENGTH].strip("._-") or "media"
    return f"{stem}{_filename_suffix(run)}"


def run_report_content_disposition(*, run: AnalysisRun) -> str:
    """An attachment header naming the report: an ASCII `filename` for old clients and the
    UTF-8 `filename*` (RFC 6266) for the rest."""
    quoted = urllib.parse.quote(run_report_unicode_filename(run=run), safe="")
    return f"attachment; filename=\"{run_report_filename(run=run)}\"; filename*=UTF-8''{quoted}"


def run_report_pdf(*, run: AnalysisRun) -> bytes:
    """The report of `run` as PDF bytes.

    Expects the run's media and analyses to be loaded already (see `run_get_for_report`), so
    rendering issues no queries.
    """
    report = _collect(run)
    filename = pdf_text(run.media.original_filename or "")
    story = [
        *_cover(report),
        *_summary(report),
        *_media_section(report),
        *_comparison_section(report),
        *_charts_section(report),
        *_details_section(report),
        *_methodology_section(),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=PAGE_MARGIN,
        rightMargin=PAGE_MARGIN,
        topMargin=PAGE_MARGIN,
        bottomMargin=PAGE_MARGIN,
        title=f"Analysis report: {filename}",
        author="Drishtiksha",
        subject=f"Run #{run.run_number} of media {run.media_id}",
        creator="Drishtiksha",
    )
    canvasmaker = functools.partial(
        _ReportCanvas,
        header=f"Drishtiksha analysis report \u00b7 {charts.shorten(filename, 70)} \u00b7 "
        f"Run #{run.run_number}",
        footer=f"Report {report.report_id}",
    )
    document.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()
