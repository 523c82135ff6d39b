"""THE verdict of a run, computed one way for the API, the pages, the PDF report and the admin.

Each COMPLETED analysis gives a fake probability: the model's confidence when it predicted FAKE,
one minus it when it predicted REAL. How far that answer is trusted comes from the latest
evaluation that measured the model on this media type (`ModelReliability`):

- calibrated: the probability is replaced by the observed fake rate of its bin in the evaluation's
  reliability table, shrunk toward 0.5 as if the bin held VERDICT_CALIBRATION_PRIOR_ITEMS more
  items at 0.5: (fakes + k / 2) / (count + k). A bin the evaluation never filled gives 0.5.
- weighted by how well the model separated real from fake: weight = max(0, 2 * (AUC - 0.5)).
  A model no better than chance (AUC <= 0.5) weighs 0 and is ignored, and the reason says so.
- a model never evaluated is "unvalidated": its probability is used as it is, with the weight
  VERDICT_UNVALIDATED_WEIGHT (default 0.5, what an AUC of 0.75 earns).

The fake score is the weighted mean of the calibrated probabilities of the models that weigh
more than 0:

- above VERDICT_FAKE_THRESHOLD (default 0.55)  -> FAKE
- below VERDICT_REAL_THRESHOLD (default 0.45)  -> REAL
- otherwise, both bounds included              -> INCONCLUSIVE

With no usable evidence (no completed analysis: every model abstained, failed or is still
running; or every weight 0) the verdict is INCONCLUSIVE with no fake score. Without any
evaluation every model weighs the same, so the score is the plain mean of the probabilities.

Agreement is the weighted share of the contributing models whose own calibrated probability lies
in the verdict's band (above, below or between the same two thresholds).

Every verdict carries a `reason` in plain words and one `Contribution` per analysis (abstained
and failed ones included, with why).

Arithmetic is decimal on the values as written (0.45 is 0.45, not 0.4499999…), so a score that
sits exactly on a threshold lands on the side the rule above says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings

from media_analysis.choices import AnalysisStatus, Prediction, Verdict
from media_analysis.evaluation.metrics import bin_index
from media_analysis.evaluation.selectors import reliabilities_latest

HALF = Decimal("0.5")


class AnalysisLike(Protocol):
    model_name: str
    status: str
    prediction: str | None
    confidence: float | None
    media_type: str | None
    abstain_reason: str
    error_message: str


class ReliabilityLike(Protocol):
    """What the verdict reads of a `ModelReliability` row."""

    auc: float | None
    count: int
    reliability_table: list[dict[str, Any]]


@dataclass(frozen=True)
class Contribution:
    """What one analysis brought to the verdict; `weight` 0 means it did not count."""

    model_name: str
    status: str
    raw_probability: float | None
    calibrated_probability: float | None
    weight: float
    validated: bool
    auc: float | None
    evaluation_count: int | None
    # Why it weighs what it weighs, or why it gave no probability (abstained, failed).
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerdictSummary:
    verdict: Verdict
    fake_score: float | None
    agreement: float | None
    completed: int
    reason: str
    contributions: tuple[Contribution, ...]

    @property
    def label(self) -> str:
        return self.verdict.label

    def details(self) -> dict[str, Any]:
        """The contributions and the rule's settings, as stored on the run (`verdict_details`)."""
        return {
            "contributions": [contribution.as_dict() for contribution in self.contributions],
            "fake_threshold": settings.VERDICT_FAKE_THRESHOLD,
            "real_threshold": settings.VERDICT_REAL_THRESHOLD,
            "unvalidated_weight": settings.VERDICT_UNVALIDATED_WEIGHT,
        }


@dataclass(frozen=True)
class _Scored:
    contribution: Contribution
    probability: Decimal
    weight: Decimal


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _exact_fake_probability(prediction: str, confidence: float) -> Decimal:
    confidence_value = _decimal(confidence)
    return confidence_value if prediction == Prediction.FAKE else 1 - confidence_value


def fake_probability(*, prediction: str, confidence: float) -> float:
    """The probability that the media is fake, according to one model, before calibration."""
    return float(_exact_fake_probability(prediction, confidence))


def _calibrated(probability: Decimal, table: Sequence[dict[str, Any]]) -> Decimal:
    row = table[bin_index(float(probability), bins=len(table))]
    prior = Decimal(settings.VERDICT_CALIBRATION_PRIOR_ITEMS)
    items = row["count"] + prior
    if not items:
        return HALF
    return (row["fakes"] + prior * HALF) / items


def _score(analysis: AnalysisLike, reliability: ReliabilityLike | None) -> _Scored:
    raw = _exact_fake_probability(analysis.prediction, analysis.confidence)
    if reliability is None:
        weight = _decimal(settings.VERDICT_UNVALIDATED_WEIGHT)
        calibrated = raw
        note = f"unvalidated: no evaluation has measured it; default weight {weight}"
    else:
        auc = _decimal(reliability.auc)
        weight = max(Decimal(0), 2 * (auc - HALF))
        calibrated = _calibrated(raw, reliability.reliability_table)
        note = (
            f"no better than chance in evaluation (AUC {reliability.auc:.2f})"
            if not weight
            else f"AUC {reliability.auc:.2f} over {reliability.count} evaluated items"
        )
    contribution = Contribution(
        model_name=analysis.model_name,
        status=analysis.status,
        raw_probability=float(raw),
        calibrated_probability=float(calibrated),
        weight=float(weight),
        validated=reliability is not None,
        auc=None if reliability is None else reliability.auc,
        evaluation_count=None if reliability is None else reliability.count,
        note=note,
    )
    return _Scored(contribution=contribution, probability=calibrated, weight=weight)


def _unscored(analysis: AnalysisLike) -> Contribution:
    if analysis.status == AnalysisStatus.ABSTAINED:
        note = analysis.abstain_reason or "found no evidence to judge by"
    elif analysis.status == AnalysisStatus.FAILED:
        note = analysis.error_message or "failed"
    else:
        note = "still running"
    return Contribution(
        model_name=analysis.model_name,
        status=analysis.status,
        raw_probability=None,
        calibrated_probability=None,
        weight=0.0,
        validated=False,
        auc=None,
        evaluation_count=None,
        note=note,
    )


def _is_scorable(analysis: AnalysisLike) -> bool:
    return (
        analysis.status == AnalysisStatus.COMPLETED
        and analysis.prediction in Prediction.values
        and analysis.confidence is not None
    )


def _key(analysis: AnalysisLike) -> tuple[str, str | None]:
    return analysis.model_name, analysis.media_type


def _band(probability: Decimal, *, lower: Decimal, upper: Decimal) -> Verdict:
    if probability > upper:
        return Verdict.FAKE
    if probability < lower:
        return Verdict.REAL
    return Verdict.INCONCLUSIVE


def _shown(score: Decimal, *, lower: Decimal, upper: Decimal) -> str:
    """The score with as few decimals (at least two) as keep it on its side of the thresholds."""
    band = _band(score, lower=lower, upper=upper)
    for places in range(2, 7):
        rounded = round(score, places)
        if _band(rounded, lower=lower, upper=upper) == band:
            return f"{rounded:.{places}f}"
    return str(score)


def _named(contributions: Iterable[Contribution]) -> str:
    return "; ".join(f"{c.model_name}: {c.note}" for c in contributions)


def _no_evidence_reason(contributions: Sequence[Contribution]) -> str:
    if not contributions:
        return "No model analysed this media."
    parts = []
    for status, word in (
        (AnalysisStatus.ABSTAINED, "abstained"),
        (AnalysisStatus.FAILED, "failed"),
        (AnalysisStatus.PENDING, "not started"),
        (AnalysisStatus.PROCESSING, "still running"),
    ):
        of_status = [c for c in contributions if c.status == status]
        if of_status:
            parts.append(f"{len(of_status)} {word} ({_named(of_status)})")
    weightless = [c for c in contributions if c.status == AnalysisStatus.COMPLETED]
    if weightless:
        parts.append(f"{len(weightless)} weighing nothing ({_named(weightless)})")
    return f"No model found usable evidence: {', '.join(parts)}."


def _reason(
    *,
    verdict: Verdict,
    score: Decimal,
    contributions: Sequence[Contribution],
    lower: Decimal,
    upper: Decimal,
) -> str:
    shown = _shown(score, lower=lower, upper=upper)
    if verdict == Verdict.FAKE:
        sentences = [f"The weighted score {shown} is above the fake threshold {upper}."]
    elif verdict == Verdict.REAL:
        sentences = [f"The weighted score {shown} is below the real threshold {lower}."]
    else:
        sentences = [f"The weighted score {shown} lies between the thresholds {lower} and {upper}."]
    counted = [c for c in contributions if c.weight > 0]
    unvalidated = [c.model_name for c in counted if not c.validated]
    default_weight = _decimal(settings.VERDICT_UNVALIDATED_WEIGHT)
    if unvalidated and len(unvalidated) == len(counted):
        sentences.append(
            f"Only unvalidated models contributed ({', '.join(unvalidated)}): no evaluation has "
            f"measured them, so each counted with the default weight {default_weight}."
        )
    elif unvalidated:
        sentences.append(
            f"Unvalidated, counted with the default weight {default_weight}: "
            f"{', '.join(unvalidated)}."
        )
    ignored = [c for c in contributions if c.status == AnalysisStatus.COMPLETED and not c.weight]
    if ignored:
        sentences.append(f"Ignored: {_named(ignored)}.")
    abstained = [c for c in contributions if c.status == AnalysisStatus.ABSTAINED]
    if abstained:
        sentences.append(f"No evidence found by {_named(abstained)}.")
    failed = [c for c in contributions if c.status == AnalysisStatus.FAILED]
    if failed:
        sentences.append(f"Failed: {_named(failed)}.")
    return " ".join(sentences)


def verdict_compute(
    *,
    analyses: Iterable[AnalysisLike],
    reliabilities: Mapping[tuple[str, str], ReliabilityLike] | None = None,
) -> VerdictSummary:
    """The verdict over `analyses`; only COMPLETED ones with a prediction can count.

    `reliabilities` maps (model name, media type) to the measured reliability to use; by default
    the latest one of each model is read from the evaluations (one query).
    """
    analyses = list(analyses)
    upper = _decimal(settings.VERDICT_FAKE_THRESHOLD)
    lower = _decimal(settings.VERDICT_REAL_THRESHOLD)
    scorable = [analysis for analysis in analyses if _is_scorable(analysis)]
    if reliabilities is None:
        reliabilities = reliabilities_latest(keys=(_key(analysis) for analysis in scorable))
    scored = {
        id(analysis): _score(analysis, reliabilities.get(_key(analysis))) for analysis in scorable
    }
    contributions = tuple(
        scored[id(analysis)].contribution if id(analysis) in scored else _unscored(analysis)
        for analysis in analyses
    )
    counted = [item for item in scored.values() if item.weight > 0]
    total_weight = sum((item.weight for item in counted), Decimal(0))
    if not total_weight:
        return VerdictSummary(
            verdict=Verdict.INCONCLUSIVE,
            fake_score=None,
            agreement=None,
            completed=len(scorable),
            reason=_no_evidence_reason(contributions),
            contributions=contributions,
        )

    score = sum((item.weight * item.probability for item in counted), Decimal(0)) / total_weight
    verdict = _band(score, lower=lower, upper=upper)
    agreeing = sum(
        (
            item.weight
            for item in counted
            if _band(item.probability, lower=lower, upper=upper) == verdict
        ),
        Decimal(0),
    )
    return VerdictSummary(
        verdict=verdict,
        fake_score=float(score),
        agreement=float(agreeing / total_weight),
        completed=len(scorable),
        reason=_reason(
            verdict=verdict, score=score, contributions=contributions, lower=lower, upper=upper
        ),
        contributions=contributions,
    )
