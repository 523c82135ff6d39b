"""Reading and formatting analysis results, once, for the pages, the API, the PDF and the admin.

A result payload comes from the inference server and is not trusted: every reader here takes any
JSON value and answers None, an empty list or "Not available" for a missing key, a null or a value
of the wrong type, never an exception. The wording of numbers, durations, risk levels and the
verdict's thresholds is written here once, so the run page, the PDF and the admin say the same
thing in the same words.

Nothing here draws. The PDF (`reports/`) and the pages' chart data (`chart_data`) build on these
values, and this module imports neither ReportLab nor Pillow, so a page loads without them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, Prediction
from media_analysis.labels import field_label
from media_analysis.verdict import fake_probability

if TYPE_CHECKING:
    from media_analysis.models import AnalysisRun, DeepfakeAnalysis

NOT_AVAILABLE = "Not available"
# A frame score is the fake probability of that frame or window; above one half it leans fake.
SUSPICIOUS_FRAME_SCORE = 0.5
# The payload sections an audio model reports its measurements in.
AUDIO_SECTIONS = ("properties", "pitch", "energy", "spectral", "voice_quality")
# Free-form payload sections are shown generically; these bounds keep one chatty model from
# filling pages.
MAX_DETAIL_ROWS = 40
MAX_NESTING_DEPTH = 4
MAX_INLINE_LIST = 6
# Four decimals are below a pixel on any chart and keep a page's JSON small.
CHART_DECIMALS = 4


# --- Payload reading ------------------------------------------------------------------------------


def as_number(value: object) -> float | None:
    """A finite float from a JSON value, or None; booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def as_mapping(value: object) -> dict:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def analysis_payload(analysis: DeepfakeAnalysis) -> dict:
    """The analysis's stored result payload as a dict (empty when absent or malformed)."""
    return as_mapping(analysis.result_payload)


def round_for_chart(value: float) -> float:
    """`value` at the precision charts are sent and drawn with (CHART_DECIMALS)."""
    return round(value, CHART_DECIMALS)


def frame_scores(predictions: object) -> list[tuple[float, float]]:
    """(index, score) of every usable entry of `frame_predictions`, in index order.

    An entry without a numeric index takes its position in the list, so a payload that omits
    indices still plots in order instead of disappearing.
    """
    if not isinstance(predictions, list):
        return []
    scores = []
    for position, entry in enumerate(predictions):
        if not isinstance(entry, dict):
            continue
        score = as_number(entry.get("score"))
        if score is None:
            continue
        index = as_number(entry.get("index"))
        scores.append((position if index is None else index, score))
    scores.sort(key=lambda pair: pair[0])
    return scores


def timeline_points(
    scores: Sequence[tuple[float, float]], *, frame_count: object = None
) -> list[tuple[float, float]]:
    """Map (index, score) to (position in the media in %, score).

    Sequence models number windows (0..49) while frame models number frames (0..299), possibly
    sampled (0, 6, 12, ...). Dense indices are divided by their own maximum, so windows span the
    whole media; sparse indices are frame numbers and are divided by the last frame number.
    """
    if not scores:
        return []
    max_index = scores[-1][0]
    denominator = max_index
    count = as_number(frame_count)
    if count is not None and count > 1 and len(scores) <= max_index <= count - 1:
        denominator = count - 1
    if denominator <= 0:
        return [(0.0, score) for _, score in scores]
    return [(min(max(100 * index / denominator, 0.0), 100.0), score) for index, score in scores]


def downsample(points: Sequence[tuple[float, float]], *, limit: int) -> list[tuple[float, float]]:
    """At most `limit` points, keeping each segment's lowest and highest score.

    Keeping extremes rather than every n-th point means a short burst of suspicious frames still
    shows as a spike.
    """
    if len(points) <= limit:
        return list(points)
    buckets = max(limit // 2, 1)
    size = len(points) / buckets
    kept: list[tuple[float, float]] = []
    for bucket in range(buckets):
        chunk = points[int(bucket * size) : int((bucket + 1) * size)]
        if not chunk:
            continue
        low = min(chunk, key=lambda point: point[1])
        high = max(chunk, key=lambda point: point[1])
        if low == high:
            kept.append(low)
        else:
            kept.extend(sorted((low, high), key=lambda point: point[0]))
    return kept


def matrix_shape(value: object) -> tuple[int, int, bool] | None:
    """(rows, widest row, ragged) of a list of lists; None when it is not one. O(rows)."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        return None
    widths = {len(row) for row in value}
    return len(value), max(widths), len(widths) > 1


def reduce_matrix(value: object, *, limit: int) -> dict[str, Any] | None:
    """A 2-D list of numbers averaged down to at most `limit` x `limit` cells, with its range.

    Ragged rows are read as if padded with gaps; cells without a finite number are null. None when
    `value` is not a non-empty list of lists or holds no number at all.
    """
    shape = matrix_shape(value)
    if shape is None or shape[1] == 0:
        return None
    height, width, _ = shape
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
            round_for_chart(total / count) if count else None
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


# --- Numbers, sizes, durations, dates -------------------------------------------------------------


def format_number(value: object) -> str:
    """A JSON number for people: thousands separators, about four significant digits."""
    number = as_number(value)
    if number is None:
        return NOT_AVAILABLE
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 100:
        return f"{number:,.1f}"
    return f"{number:.4g}"


def format_percent(value: object) -> str:
    number = as_number(value)
    return NOT_AVAILABLE if number is None else f"{number * 100:.1f}%"


def format_threshold(value: float) -> str:
    """A threshold or band edge as a percentage without trailing zeros: 0.55 -> "55%"."""
    return f"{value * 100:g}%"


def format_seconds(value: object) -> str:
    number = as_number(value)
    return NOT_AVAILABLE if number is None else f"{number:.2f} s"


def format_duration(seconds: object, *, missing: str = NOT_AVAILABLE) -> str:
    """A duration given in seconds, e.g. 12.3 s, 2 min 5.5 s, 1 h 2 min 3 s; `missing` if none."""
    number = as_number(seconds)
    if number is None or number < 0:
        return missing
    number = round(number, 1)
    if number < 60:
        return f"{number:g} s"
    if number < 3600:
        minutes, rest = divmod(number, 60)
        return f"{int(minutes)} min {round(rest, 1):g} s"
    hours, rest = divmod(round(number), 3600)
    minutes, rest = divmod(rest, 60)
    return f"{hours} h {minutes} min {rest} s"


def format_bytes(value: object) -> str:
    number = as_number(value)
    if number is None or number < 0:
        return NOT_AVAILABLE
    exact = f"{int(number):,} bytes"
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if number >= factor:
            return f"{number / factor:.1f} {unit} ({exact})"
    return exact


def format_bitrate(value: object) -> str:
    number = as_number(value)
    if number is None or number <= 0:
        return NOT_AVAILABLE
    if number >= 1e6:
        return f"{number / 1e6:.2f} Mbit/s"
    return f"{number / 1e3:.0f} kbit/s"


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return NOT_AVAILABLE
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def choice_label(choices: type, value: str | None, *, empty: str = NOT_AVAILABLE) -> str:
    """The vocabulary's label of a stored choice (a status, verdict, prediction, media type);
    `empty` when there is none, and the stored value itself when the vocabulary has lost it."""
    if not value:
        return empty
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# --- Risk and the verdict's thresholds ------------------------------------------------------------


def risk_bands() -> list[tuple[str, float]]:
    """(label, lowest fake score) from the highest band down; below the last band is "Low"."""
    return [
        ("High", settings.REPORT_RISK_HIGH),
        ("Elevated", settings.REPORT_RISK_ELEVATED),
        ("Moderate", settings.REPORT_RISK_MODERATE),
    ]


def risk_level(fake_score: float | None) -> str | None:
    if fake_score is None:
        return None
    for label, minimum in risk_bands():
        if fake_score >= minimum:
            return label
    return "Low"


def risk_rule_text() -> str:
    """The rule printed next to the risk level, so the reader never has to guess it."""
    bands = risk_bands()
    parts = [f"{label} at {format_threshold(minimum)} or above" for label, minimum in bands]
    lowest = format_threshold(bands[-1][1])
    return f"Risk level from the fake score: {', '.join(parts)}, Low below {lowest}."


def verdict_thresholds() -> tuple[float, float]:
    """(fake above, real below): the settings `verdict.verdict_compute` reads, so what is printed
    is the rule that was applied."""
    return settings.VERDICT_FAKE_THRESHOLD, settings.VERDICT_REAL_THRESHOLD


# --- Frame statistics and free-form sections ------------------------------------------------------


@dataclass(frozen=True)
class FrameStatistics:
    count: int
    mean: float
    minimum: float
    maximum: float
    std: float
    suspicious: int

    @property
    def suspicious_share(self) -> float:
        return self.suspicious / self.count


def frame_statistics(scores: list[float]) -> FrameStatistics | None:
    """Statistics over every frame score (population standard deviation)."""
    if not scores:
        return None
    count = len(scores)
    mean = math.fsum(scores) / count
    variance = math.fsum((score - mean) ** 2 for score in scores) / count
    return FrameStatistics(
        count=count,
        mean=mean,
        minimum=min(scores),
        maximum=max(scores),
        std=math.sqrt(variance),
        suspicious=suspicious_count(scores),
    )


def suspicious_count(scores: Sequence[float]) -> int:
    """How many frame scores lean fake (above SUSPICIOUS_FRAME_SCORE)."""
    return sum(1 for score in scores if score > SUSPICIOUS_FRAME_SCORE)


def describe_value(value: object) -> str:
    """One free-form payload value as a short line: long lists are summarised, not dumped."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if not value:
            return "(empty list)"
        numbers = [as_number(item) for item in value]
        if all(number is not None for number in numbers) and not any(
            isinstance(item, str) for item in value
        ):
            if len(value) <= MAX_INLINE_LIST:
                return ", ".join(format_number(number) for number in numbers)
            mean = math.fsum(numbers) / len(numbers)
            return (
                f"{len(numbers):,} values: min {format_number(min(numbers))}, "
                f"mean {format_number(mean)}, max {format_number(max(numbers))}"
            )
        return f"list of {len(value):,} items"
    if isinstance(value, dict):
        return f"{len(value):,} entries"
    return str(value)


def _flatten(value: object, key: str, depth: int) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict) and value and depth < MAX_NESTING_DEPTH:
        for child_key, child in value.items():
            yield from _flatten(child, f"{key}.{child_key}" if key else str(child_key), depth + 1)
    else:
        yield (field_label(key) if key else "Value"), describe_value(value)


def flatten(data: object, *, prefix: str = "") -> tuple[list[tuple[str, str]], bool]:
    """(key, text) rows of a free-form dict, nested keys joined with dots; True if truncated."""
    if not isinstance(data, dict) or not data:
        return [], False
    rows = list(islice(_flatten(data, prefix, 0), MAX_DETAIL_ROWS + 1))
    return rows[:MAX_DETAIL_ROWS], len(rows) > MAX_DETAIL_ROWS


# --- One model's result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelResult:
    """One analysis with its payload read once: what the PDF and the run page show of a model."""

    analysis: DeepfakeAnalysis
    payload: dict
    # Every usable frame score as the model reported it (not clamped), in index order.
    scores: list[tuple[float, float]]

    @property
    def completed(self) -> bool:
        return self.analysis.status == AnalysisStatus.COMPLETED

    @property
    def processing_time(self) -> float | None:
        """Seconds the server spent: the stored column, else the payload's own figure."""
        seconds = as_number(self.analysis.processing_time)
        return seconds if seconds is not None else as_number(self.payload.get("processing_time"))

    @property
    def prediction_confidence(self) -> float | None:
        """The confidence of a completed REAL/FAKE prediction; None when there is none to show."""
        confidence = as_number(self.analysis.confidence)
        if self.completed and self.analysis.prediction in Prediction.values:
            return confidence
        return None

    @property
    def fake_probability(self) -> float | None:
        """The model's own fake probability before calibration (see `verdict`)."""
        confidence = self.prediction_confidence
        if confidence is None:
            return None
        return fake_probability(prediction=self.analysis.prediction, confidence=confidence)


def model_result(*, analysis: DeepfakeAnalysis) -> ModelResult:
    payload = analysis_payload(analysis)
    return ModelResult(
        analysis=analysis, payload=payload, scores=frame_scores(payload.get("frame_predictions"))
    )


def run_model_results(*, run: AnalysisRun) -> list[ModelResult]:
    """Every analysis of `run`, by model name; prefetch `analyses` to keep this to no query."""
    analyses = sorted(run.analyses.all(), key=lambda analysis: analysis.model_name)
    return [model_result(analysis=analysis) for analysis in analyses]
