"""Chart data for the run and model report pages, prepared on the server.

Pages receive these dicts through `json_script`, so the browser only draws: every normalisation
(frame indices to a 0-100 % timeline, downsampling, histograms, heatmap reduction) happens here,
the same way for every model, and reuses the PDF report's rules where both show the same thing.

Payloads come from the inference server and are not trusted: a value that is not a finite number
is skipped (or sent as null in a matrix), scores are clamped to 0-1, and any shape that is not the
expected one yields "no data" rather than an error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from media_analysis.choices import AnalysisStatus, MediaType, Prediction
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.reports.charts import as_number, downsample, frame_scores, timeline_points
from media_analysis.reports.pdf import SUSPICIOUS_FRAME_SCORE, flatten

# The rolling mean spans this share of a model's frame scores, but never fewer than
# ROLLING_MEAN_MIN_WINDOW of them: wide enough to show a trend, narrow enough to keep bursts.
ROLLING_MEAN_SHARE = 0.05
ROLLING_MEAN_MIN_WINDOW = 3
HISTOGRAM_BINS = 10
AUDIO_SECTIONS = ("properties", "pitch", "energy", "spectral", "voice_quality")
# Keys the model page shows elsewhere (charts, the result card, the environment card), left out
# of its "Result details" table.
SHOWN_ELSEWHERE_KEYS = frozenset(
    {
        "frame_predictions",
        "metrics",
        "heatmap_scores",
        "visualization",
        "note",
        "prediction",
        "confidence",
        "processing_time",
        "media_type",
    }
)


def _payload(analysis: DeepfakeAnalysis) -> dict[str, Any]:
    payload = analysis.result_payload
    return payload if isinstance(payload, dict) else {}


def _clamp_score(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _rounded(value: float) -> float:
    # Four decimals are below a pixel on any chart and keep the page's JSON small.
    return round(value, 4)


def media_kind(analysis: DeepfakeAnalysis) -> str:
    """VIDEO, AUDIO or IMAGE: the payload's own `media_type` first, then the stored column."""
    declared = _payload(analysis).get("media_type")
    if isinstance(declared, str) and declared.upper() in MediaType.values:
        return declared.upper()
    return analysis.media_type or analysis.run.media.media_type


def media_duration(media: object) -> float | None:
    """The probed length of the media in seconds (`metadata.format.duration`), or None.

    Charts place frame scores in time with it: a score's position in the media (0-100 %, see
    `timeline_points`) times the duration is its time, whatever the model numbered (frames or
    windows). Without it the charts fall back to positions or indices and say so.
    """
    metadata = getattr(media, "metadata", None)
    fmt = metadata.get("format") if isinstance(metadata, dict) else None
    seconds = as_number(fmt.get("duration")) if isinstance(fmt, dict) else None
    return seconds if seconds is not None and seconds > 0 else None


def _scores(analysis: DeepfakeAnalysis) -> list[tuple[float, float]]:
    return [
        (index, _clamp_score(score))
        for index, score in frame_scores(_payload(analysis).get("frame_predictions"))
    ]


# --- Run page -------------------------------------------------------------------------------------


def run_chart_data(*, run: AnalysisRun) -> dict[str, Any]:
    """Every video model's frame scores on a shared 0-100 % timeline, confidence per model (with
    its prediction) and processing time per model."""
    limit = settings.PAGE_CHART_MAX_POINTS
    timeline = []
    confidence = []
    processing = []
    for analysis in run.analyses.all():
        payload = _payload(analysis)
        completed = analysis.status == AnalysisStatus.COMPLETED
        scores = _scores(analysis) if completed else []
        if scores:
            points = timeline_points(scores, frame_count=payload.get("frame_count"))
            timeline.append(
                {
                    "model": analysis.model_name,
                    "points": [
                        {"x": _rounded(x), "y": _rounded(y * 100)}
                        for x, y in downsample(points, limit=limit)
                    ],
                }
            )
        value = as_number(analysis.confidence)
        if completed and value is not None and analysis.prediction in Prediction.values:
            confidence.append(
                {
                    "model": analysis.model_name,
                    "prediction": analysis.prediction,
                    "confidence": _rounded(_clamp_score(value) * 100),
                }
            )
        seconds = as_number(analysis.processing_time)
        if seconds is None:
            seconds = as_number(payload.get("processing_time"))
        if seconds is not None and seconds >= 0:
            processing.append(
                {
                    "model": analysis.model_name,
                    "seconds": _rounded(seconds),
                    # An abstention ("no evidence") took its time too, and did not fail.
                    "failed": analysis.status == AnalysisStatus.FAILED,
                }
            )
    return {
        "timeline": timeline,
        "confidence": confidence,
        "processingTime": processing,
        "duration": media_duration(run.media),
    }


# --- Model report page ----------------------------------------------------------------------------


def rolling_mean(values: Sequence[float]) -> list[float]:
    """Trailing mean of each value and the ones before it, over the window described above."""
    window = max(ROLLING_MEAN_MIN_WINDOW, round(len(values) * ROLLING_MEAN_SHARE))
    means = []
    total = 0.0
    for position, value in enumerate(values):
        total += value
        if position >= window:
            total -= values[position - window]
        means.append(total / min(position + 1, window))
    return means


def histogram(values: Sequence[float], *, bins: int = HISTOGRAM_BINS) -> dict[str, list]:
    """Counts of scores (0-1) per equal-width bin; a score of exactly 1 falls in the last bin."""
    counts = [0] * bins
    for value in values:
        counts[min(int(value * bins), bins - 1)] += 1
    labels = [f"{100 * i // bins}–{100 * (i + 1) // bins} %" for i in range(bins)]
    return {"labels": labels, "counts": counts}


def bucket_means(values: Sequence[float], *, limit: int) -> list[float]:
    """At most `limit` values, each the mean of a run of consecutive ones (a heat strip cell)."""
    if len(values) <= limit:
        return list(values)
    size = len(values) / limit
    return [
        math.fsum(chunk) / len(chunk)
        for bucket in range(limit)
        if (chunk := values[int(bucket * size) : int((bucket + 1) * size)])
    ]


def _video_data(analysis: DeepfakeAnalysis) -> dict[str, Any] | None:
    scores = _scores(analysis)
    if not scores:
        return None
    limit = settings.PAGE_CHART_MAX_POINTS
    values = [score for _, score in scores]
    means = rolling_mean(values)
    indexed_means = [(index, mean) for (index, _), mean in zip(scores, means, strict=True)]
    duration = media_duration(analysis.run.media)
    seconds_at: dict[float, float] = {}
    if duration is not None:
        positions = timeline_points(scores, frame_count=_payload(analysis).get("frame_count"))
        seconds_at = {
            index: duration * position / 100
            for (index, _), (position, _) in zip(scores, positions, strict=True)
        }

    def point(index: float, score: float) -> dict[str, float]:
        # `x` is the model's frame or window index; `t` (with a known duration) its time in s.
        entry = {"x": _rounded(index), "y": _rounded(score * 100)}
        if index in seconds_at:
            entry["t"] = _rounded(seconds_at[index])
        return entry

    return {
        "duration": duration,
        "frames": [point(x, y) for x, y in downsample(scores, limit=limit)],
        "rollingMean": [point(x, y) for x, y in _evenly(indexed_means, limit=limit)],
        "heatStrip": [_rounded(value) for value in bucket_means(values, limit=limit)],
        "histogram": histogram(values),
        "count": len(values),
        "suspicious": sum(1 for value in values if value > SUSPICIOUS_FRAME_SCORE),
        "mean": _rounded(math.fsum(values) / len(values)),
        "max": _rounded(max(values)),
        "min": _rounded(min(values)),
    }


def _evenly(points: Sequence[tuple[float, float]], *, limit: int) -> list[tuple[float, float]]:
    """Every n-th point (and the last): a smooth line needs no extremes kept."""
    if len(points) <= limit:
        return list(points)
    step = len(points) / limit
    picked = [points[int(i * step)] for i in range(limit)]
    if picked[-1] != points[-1]:
        picked[-1] = points[-1]
    return picked


def reduce_matrix(value: object, *, limit: int) -> dict[str, Any] | None:
    """A 2-D list of numbers averaged down to at most `limit` x `limit` cells, with its range.

    Ragged rows are read as if padded with gaps; cells without a finite number are null. None when
    `value` is not a non-empty list of lists or holds no number at all.
    """
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        return None
    height = len(value)
    width = max(len(row) for row in value)
    if width == 0:
        return None
    out_h, out_w = min(height, limit), min(width, limit)
    sums = [[0.0] * out_w for _ in range(out_h)]
    counts = [[0] * out_w for _ in range(out_h)]
    for row_index, row in enumerate(value):
        target_row = row_index * out_h // height
        for column_index, cell in enumerate(row):
            number = as_number(cell)
            if number is None:
                continue
            target_column = column_index * out_w // width
            sums[target_row][target_column] += number
            counts[target_row][target_column] += 1
    cells = [
        [
            _rounded(total / count) if count else None
            for total, count in zip(sum_row, count_row, strict=True)
        ]
        for sum_row, count_row in zip(sums, counts, strict=True)
    ]
    numbers = [cell for row in cells for cell in row if cell is not None]
    if not numbers:
        return None
    return {
        "rows": cells,
        "min": min(numbers),
        "max": max(numbers),
        "sourceShape": [height, width],
    }


def _spectrogram(payload: dict[str, Any]) -> dict[str, Any] | None:
    visualization = payload.get("visualization")
    if not isinstance(visualization, dict):
        return None
    data = visualization.get("spectrogram_data")
    matrix = reduce_matrix(data, limit=settings.PAGE_HEATMAP_MAX_CELLS)
    if matrix is not None:
        return {"kind": "matrix", **matrix, **_spectrogram_axes(payload)}
    if isinstance(data, list):
        # One model sends a flat list of per-chunk scores instead of a dB matrix.
        values = [number for item in data if (number := as_number(item)) is not None]
        if values:
            limit = settings.PAGE_CHART_MAX_POINTS
            return {
                "kind": "series",
                "values": [_rounded(v) for v in bucket_means(values, limit=limit)],
            }
    return None


def _first_number(*values: object) -> float | None:
    for value in values:
        number = as_number(value)
        if number is not None and number > 0:
            return number
    return None


def _spectrogram_axes(payload: dict[str, Any]) -> dict[str, float | None]:
    """The time (s) and frequency (Hz) spans of a spectrogram matrix, when the payload says.

    Rows run from 0 Hz to the Nyquist frequency of the rate the audio was analysed at (the
    reference server's `metrics.nyquist_hz`, else half of a sample rate); columns span the
    analysed seconds (else the whole duration). Missing spans leave the axes in rows and columns.
    """
    metrics = payload.get("metrics") if isinstance(payload.get("metrics"), dict) else {}
    properties = payload.get("properties") if isinstance(payload.get("properties"), dict) else {}
    rate = _first_number(metrics.get("analysis_sample_rate"), properties.get("sample_rate"))
    max_hz = _first_number(metrics.get("nyquist_hz"), rate / 2 if rate else None)
    seconds = _first_number(metrics.get("analysed_seconds"), properties.get("duration_seconds"))
    return {
        "maxHz": _rounded(max_hz) if max_hz else None,
        "seconds": _rounded(seconds) if seconds else None,
    }


def audio_figures(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The audio sections (properties, pitch, energy, spectral, voice quality) as key/value rows."""
    figures = []
    for section in AUDIO_SECTIONS:
        rows, truncated = flatten(payload.get(section))
        if rows:
            title = section.replace("_", " ").capitalize()
            figures.append({"title": title, "rows": rows, "truncated": truncated})
    return figures


def analysis_chart_data(*, analysis: DeepfakeAnalysis) -> dict[str, Any]:
    """What the model report page draws, by media type."""
    payload = _payload(analysis)
    kind = media_kind(analysis)
    data: dict[str, Any] = {"kind": kind}
    if kind == MediaType.VIDEO:
        data["video"] = _video_data(analysis)
    elif kind == MediaType.AUDIO:
        data["spectrogram"] = _spectrogram(payload)
    elif kind == MediaType.IMAGE:
        data["heatmap"] = reduce_matrix(
            payload.get("heatmap_scores"), limit=settings.PAGE_HEATMAP_MAX_CELLS
        )
    return data


def result_tables(*, analysis: DeepfakeAnalysis) -> dict[str, Any]:
    """The payload's `metrics` and its remaining plain fields as flattened key/value rows."""
    payload = _payload(analysis)
    metrics, metrics_truncated = flatten(payload.get("metrics"))
    rest = {key: value for key, value in payload.items() if key not in SHOWN_ELSEWHERE_KEYS}
    if media_kind(analysis) == MediaType.AUDIO:
        rest = {key: value for key, value in rest.items() if key not in AUDIO_SECTIONS}
    details, details_truncated = flatten(rest)
    return {
        "metrics": metrics,
        "metrics_truncated": metrics_truncated,
        "details": details,
        "details_truncated": details_truncated,
    }


def raw_result_text(*, analysis: DeepfakeAnalysis) -> tuple[str, bool]:
    """The stored result pretty-printed, cut at PAGE_RAW_RESULT_MAX_CHARS; True when cut."""
    if analysis.result_payload is None:
        return "", False
    text = json.dumps(analysis.result_payload, indent=2, ensure_ascii=False, default=str)
    limit = settings.PAGE_RAW_RESULT_MAX_CHARS
    return (text[:limit], True) if len(text) > limit else (text, False)
