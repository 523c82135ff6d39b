"""How well a model's fake probabilities separate labelled real items from fake ones.

FAKE is the positive class throughout. Plain numpy, no model-fitting library: the numbers must
be explainable to whoever cites them.

- ROC AUC by the Mann-Whitney statistic: the chance that a randomly drawn fake item gets a higher
  fake probability than a randomly drawn real one, ties counting one half. Undefined (None) when
  the items are all of one class.
- Accuracy, precision and recall of the model's own predictions (its own decision threshold).
- A reliability table: the probabilities cut into equal-width bins, each with its count, the
  mean predicted fake probability and the observed share of fake items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Decisions:
    accuracy: float | None
    precision: float | None
    recall: float | None


def _exact(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def bin_index(probability: float, *, bins: int) -> int:
    """The reliability bin of `probability`: bins are [i/bins, (i+1)/bins), the last one closed.

    Decimal on the value as written, so 0.6 with 5 bins is bin 3, never bin 2 by a rounding error;
    the verdict looks bins up with this same function.
    """
    return min(int(_exact(probability) * bins), bins - 1)


def roc_auc(*, probabilities: Sequence[float], is_fake: Sequence[bool]) -> float | None:
    """ROC AUC of `probabilities` against the labels; None with only one class present."""
    scores = np.asarray(probabilities, dtype=float)
    positive = np.asarray(is_fake, dtype=bool)
    positives = int(positive.sum())
    negatives = len(positive) - positives
    if positives == 0 or negatives == 0:
        return None
    # Ranks from 1, tied scores sharing the mean of the ranks they span.
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - counts + (counts + 1) / 2)[group]
    u_statistic = ranks[positive].sum() - positives * (positives + 1) / 2
    return float(u_statistic / (positives * negatives))


def decisions(*, predicted_fake: Sequence[bool], is_fake: Sequence[bool]) -> Decisions:
    """Accuracy, precision and recall of the predictions; None where a ratio has no items."""
    predicted = np.asarray(predicted_fake, dtype=bool)
    actual = np.asarray(is_fake, dtype=bool)
    if not len(actual):
        return Decisions(accuracy=None, precision=None, recall=None)
    true_positives = int((predicted & actual).sum())
    predicted_positives = int(predicted.sum())
    actual_positives = int(actual.sum())
    return Decisions(
        accuracy=float((predicted == actual).mean()),
        precision=true_positives / predicted_positives if predicted_positives else None,
        recall=true_positives / actual_positives if actual_positives else None,
    )


def reliability_table(
    *, probabilities: Sequence[float], is_fake: Sequence[bool], bins: int
) -> list[dict[str, Any]]:
    """One row per bin: its range, count, fakes, mean predicted probability, observed fake rate."""
    scores = np.asarray(probabilities, dtype=float)
    actual = np.asarray(is_fake, dtype=bool)
    index = np.asarray([bin_index(score, bins=bins) for score in scores], dtype=int)
    table = []
    for number in range(bins):
        inside = index == number
        count = int(inside.sum())
        fakes = int(actual[inside].sum())
        table.append(
            {
                "lower": float(Decimal(number) / bins),
                "upper": float(Decimal(number + 1) / bins),
                "count": count,
                "fakes": fakes,
                "mean_predicted": float(scores[inside].mean()) if count else None,
                "observed_fake_rate": fakes / count if count else None,
            }
        )
    return table
