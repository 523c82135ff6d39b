"""Turning statistics into probabilities, verdicts and the contract's per-frame metrics.

Every detector maps its statistic to a fake probability with :func:`bounded_probability`:
a logistic curve with a documented centre and scale, squeezed into ``[floor, ceiling]``.
The bounds encode how much the statistic can prove: the absence of a trace is weak evidence
of authenticity, so no heuristic here ever claims a near-certain REAL, and only declared
provenance claims a near-certain FAKE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# A probability strictly above this is a FAKE verdict.
DECISION_THRESHOLD = 0.5
# Frames averaged by the contract's ``rolling_average_scores``.
ROLLING_WINDOW = 5
# MAD -> standard deviation for normally distributed data.
MAD_TO_SIGMA = 1.4826
# Decimal places kept in JSON answers: enough for charts, small bodies.
SCORE_DECIMALS = 4


def logistic(x: float) -> float:
    """The standard logistic function, safe for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    exp_x = math.exp(x)
    return exp_x / (1.0 + exp_x)


def bounded_probability(
    statistic: float, *, centre: float, scale: float, floor: float, ceiling: float
) -> float:
    """``floor + (ceiling - floor) * logistic((statistic - centre) / scale)``.

    ``centre`` is the statistic's value at which the evidence is even, ``scale`` how fast it
    saturates; both are named constants next to each detector with their rationale.
    """
    return floor + (ceiling - floor) * logistic((statistic - centre) / scale)


def verdict(fake_probability: float) -> tuple[str, float]:
    """``(prediction, confidence)`` where confidence is the probability of the predicted class."""
    if fake_probability > DECISION_THRESHOLD:
        return "FAKE", fake_probability
    return "REAL", 1.0 - fake_probability


def robust_zscores(values: np.ndarray, *, scale_floor: float) -> np.ndarray:
    """``(x - median) / max(1.4826 * MAD, scale_floor)``, ignoring NaNs in the statistics.

    The median and MAD describe what is typical for *this* media item, so one outlier
    cannot hide itself by inflating the spread; ``scale_floor`` stops near-constant series
    (a static shot) from turning tiny wobbles into huge scores.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full_like(values, np.nan, dtype=np.float64)
    median = float(np.median(finite))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(finite - median)))
    return (values - median) / max(spread, scale_floor)


def rounded(value: float | None) -> float | None:
    """Round for JSON, mapping NaN/inf to ``None`` (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), SCORE_DECIMALS)


def frame_results(
    indices: Sequence[int], scores: Sequence[float]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The contract's ``frame_predictions`` and the common part of video ``metrics``.

    ``scores`` are per-frame (or per-window) fake probabilities in frame order.
    """
    score_array = np.asarray(scores, dtype=np.float64)
    predictions = [
        {"index": int(index), "score": rounded(score), "prediction": verdict(float(score))[0]}
        for index, score in zip(indices, score_array, strict=True)
    ]
    if score_array.size == 0:
        return predictions, {
            "rolling_average_scores": [],
            "final_average_score": None,
            "max_score": None,
            "min_score": None,
            "score_variance": None,
            "suspicious_frames_count": 0,
        }
    window = min(ROLLING_WINDOW, score_array.size)
    rolling = np.convolve(score_array, np.ones(window) / window, mode="valid")
    metrics = {
        "rolling_average_scores": [rounded(value) for value in rolling],
        "final_average_score": rounded(score_array.mean()),
        "max_score": rounded(score_array.max()),
        "min_score": rounded(score_array.min()),
        "score_variance": rounded(score_array.var()),
        "suspicious_frames_count": int(np.count_nonzero(score_array > DECISION_THRESHOLD)),
    }
    return predictions, metrics
