"""THE verdict of a run, computed one way for the API, the pages, the PDF report and the admin.

The verdict is the mean fake probability over the completed analyses, where a model's fake
probability is its confidence when it predicted FAKE and one minus it when it predicted REAL:

- above VERDICT_FAKE_THRESHOLD (default 0.55)  -> FAKE
- below VERDICT_REAL_THRESHOLD (default 0.45)  -> REAL
- otherwise, both bounds included              -> INCONCLUSIVE

Agreement is the share of completed models that agree with the verdict. For FAKE and REAL a model
agrees when its own prediction is the verdict. A model's prediction is always REAL or FAKE, so for
INCONCLUSIVE a model agrees when its own fake probability lies inside the inconclusive band: 100 %
means every model was itself unsure, 0 % means the models were each confident but contradicted
each other.

Arithmetic is decimal on the values as written (0.45 is 0.45, not 0.4499999…), so a score that
sits exactly on a threshold lands on the side the rule above says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings

from media_analysis.choices import AnalysisStatus, Prediction, Verdict


class AnalysisLike(Protocol):
    status: str
    prediction: str | None
    confidence: float | None


@dataclass(frozen=True)
class VerdictSummary:
    verdict: Verdict | None
    fake_score: float | None
    agreement: float | None
    completed: int

    @property
    def label(self) -> str:
        return self.verdict.label if self.verdict else ""


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _exact_fake_probability(prediction: str, confidence: float) -> Decimal:
    confidence_value = _decimal(confidence)
    return confidence_value if prediction == Prediction.FAKE else 1 - confidence_value


def fake_probability(*, prediction: str, confidence: float) -> float:
    """The probability that the media is fake, according to one model."""
    return float(_exact_fake_probability(prediction, confidence))


def verdict_compute(*, analyses: Iterable[AnalysisLike]) -> VerdictSummary:
    """The verdict over `analyses`; only COMPLETED ones with a prediction count.

    With no completed analysis there is no verdict (all fields None).
    """
    upper = _decimal(settings.VERDICT_FAKE_THRESHOLD)
    lower = _decimal(settings.VERDICT_REAL_THRESHOLD)
    completed = [
        (analysis.prediction, _exact_fake_probability(analysis.prediction, conf))
        for analysis in analyses
        if analysis.status == AnalysisStatus.COMPLETED
        and analysis.prediction in Prediction.values
        and (conf := analysis.confidence) is not None
    ]
    if not completed:
        return VerdictSummary(verdict=None, fake_score=None, agreement=None, completed=0)

    mean = sum(probability for _, probability in completed) / len(completed)
    if mean > upper:
        verdict = Verdict.FAKE
    elif mean < lower:
        verdict = Verdict.REAL
    else:
        verdict = Verdict.INCONCLUSIVE

    if verdict == Verdict.INCONCLUSIVE:
        agreeing = sum(1 for _, probability in completed if lower <= probability <= upper)
    else:
        agreeing = sum(1 for prediction, _ in completed if prediction == verdict)
    return VerdictSummary(
        verdict=verdict,
        fake_score=float(mean),
        agreement=agreeing / len(completed),
        completed=len(completed),
    )
