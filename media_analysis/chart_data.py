"""Chart data for the run and model report pages, prepared on the server.

Pages receive these dicts through `json_script`, so the browser only draws: every normalisation
(frame indices to a 0-100 % timeline, downsampling, histograms, heatmap reduction) happens here,
the same way for every model, with the readers and rules of `results` that the PDF report uses too.

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

from media_analysis.choices import AnalysisStatus, MediaType
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.results import (
    AUDIO_SECTIONS,
    analysis_payload,
    as_number,
    downsample,
    flatten,
    model_result,
    reduce_matrix,
    round_for_chart,
    suspicious_count,
    timeline_points,
)

# The rolling mean spans this share of a model's frame scores, but never fewer than
# ROLLING_MEAN_MIN_WINDOW of them: wide enough to show a trend, narrow enough to keep bursts.
ROLLING_MEAN_SHARE = 0.05
ROLLING_MEAN_MIN_WINDOW = 3
HISTOGRAM_BINS = 10
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


def _clamp_score(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def media_kind(analysis: DeepfakeAnalysis) -> str:
    """VIDEO, AUDIO or IMAGE: the payload's own `media_type` first, then the stored column."""
    declared = analysis_payload(analysis).get("media_type")
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


def _clamped(scores: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(index, _clamp_score(score)) for index, score in scores]


# --- Run page -------------------------------------------------------------------------------------


def run_chart_data(*, run: AnalysisRun) -> dict[str, Any]:
    """Every video model's frame scores on a shared 0-100 % timeline, confidence per model (with
    its prediction) and processing time per model."""
    limit = settings.PAGE_CHART_MAX_POINTS
    timeline = []
    confidence = []
    processing = []
    for analysis in run.analyses.all():
        result = model_result(analysis=analysis)
        if result.completed and result.scores:
            points = timeline_points(
                _clamped(result.scores), frame_count=result.payload.get("frame_count")
            )
            timeline.append(
                {
                    "model": analysis.model_name,
                    "points": [
                        {"x": round_for_chart(x), "y": round_for_chart(y * 100)}
                        for x, y in downsample(points, limit=limit)
                    ],
                }
            )
        value = result.prediction_confidence
        if value is not None:
            confidence.append(
                {
                    "model": analysis.model_name,
                    "prediction": analysis.prediction,
                    "confidence": round_for_chart(_clamp_score(value) * 100),
                }
            )
        seconds = result.processing_time
        if seconds is not None and seconds >= 0:
            processing.append(
                {
                    "model": analysis.model_name,
                    "seconds": round_for_chart(seconds),
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
    result = model_result(analysis=analysis)
    scores = _clamped(result.scores)
    if not scores:
        return None
    limit = settings.PAGE_CHART_MAX_POINTS
    values = [score for _, score in scores]
    means = rolling_mean(values)
    indexed_means = [(index, mean) for (index, _), mean in zip(scores, means, strict=True)]
    duration = media_duration(analysis.run.media)
    seconds_at: dict[float, float] = {}
    if duration is not None:
        positions = timeline_points(scores, frame_count=result.payload.get("frame_count"))
        seconds_at = {
            index: duration * position / 100
            for (index, _), (position, _) in zip(scores, positions, strict=True)
        }

    def point(index: float, score: float) -> dict[str, float]:
        # `x` is the model's frame or window index; `t` (with a known duration) its time in s.
        entry = {"x": round_for_chart(index), "y": round_for_chart(score * 100)}
        if index in seconds_at:
            entry["t"] = round_for_chart(seconds_at[index])
        return entry

    return {
        "duration": duration,
        "frames": [point(x, y) for x, y in downsample(scores, limit=limit)],
        "rollingMean": [point(x, y) for x, y in _evenly(indexed_means, limit=limit)],
        "heatStrip": [round_for_chart(value) for value in bucket_means(values, limit=limit)],
        "histogram": histogram(values),
        "count": len(values),
        "suspicious": suspicious_count(values),
        "mean": round_for_chart(math.fsum(values) / len(values)),
        "max": round_for_chart(max(values)),
        "min": round_for_chart(min(values)),
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
                "values": [round_for_chart(v) for v in bucket_means(values, limit=limit)],
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
        "maxHz": round_for_chart(max_hz) if max_hz else None,
        "seconds": round_for_chart(seconds) if seconds else None,
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
    payload = analysis_payload(analysis)
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
    payload = analysis_payload(analysis)
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
