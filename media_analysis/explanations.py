"""What a run's verdict means, in plain words, for the run page, the media page and the PDF.

A verdict is a claim someone will cite, so it is never shown alone: beside it stand what it
means and what it does not, the thresholds it was read against, why it came out as it did, which
models found nothing to judge by, how reliable each model has been measured to be (or that it
never was), and the limits the models' own descriptions state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from media_analysis.choices import AnalysisStatus, RunStatus, Verdict
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.results import verdict_thresholds

# Sentences of a model description that say what the model cannot do.
_LIMIT_WORDS = re.compile(
    r"\b(heuristic|not a trained|only|cannot|can't|does not|doesn't|misses|fails?|passes|"
    r"limit(?:s|ed)?|no evidence|unreliable|baseline)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")


@dataclass(frozen=True)
class ModelReliabilityNote:
    model_name: str
    validated: bool
    text: str
    counted: bool


@dataclass(frozen=True)
class VerdictExplanation:
    run_id: str
    meaning: str
    thresholds: str
    inconclusive: str
    reason: str
    abstentions: list[tuple[str, str]] = field(default_factory=list)
    reliability: list[ModelReliabilityNote] = field(default_factory=list)
    limits: list[tuple[str, str]] = field(default_factory=list)

    @property
    def any_unvalidated(self) -> bool:
        return any(not note.validated for note in self.reliability)


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _meaning(run: AnalysisRun) -> str:
    score = run.fake_score
    if run.verdict == Verdict.FAKE:
        return (
            "Likely deepfake: the models that found evidence, each weighted by how reliable it "
            f"has been measured to be, put the probability of manipulation at {_percent(score)}. "
            "This is a statistical signal that calls for checking the media's origin, not proof "
            "of manipulation."
        )
    if run.verdict == Verdict.REAL:
        return (
            "Likely authentic: the weighted probability of manipulation is "
            f"{_percent(score)}. The detectors only look for the traces they know; this does not "
            "prove that the media is genuine."
        )
    if run.verdict == Verdict.INCONCLUSIVE:
        return (
            "Inconclusive: the evidence does not lean clearly either way, or there is none. This "
            "is not a finding that the media is authentic."
        )
    if run.status in RunStatus.active():
        return "No verdict yet: the run has not finished."
    return "No verdict was recorded for this run: no model gave a prediction it could rest on."


def _thresholds() -> str:
    fake, real = verdict_thresholds()
    return (
        f"A weighted fake score above {_percent(fake)} reads \u201cLikely deepfake\u201d, below "
        f"{_percent(real)} \u201cLikely authentic\u201d; from {_percent(real)} to "
        f"{_percent(fake)}, and when no model found usable evidence, \u201cInconclusive\u201d."
    )


INCONCLUSIVE_MEANING = (
    "Inconclusive means the models, taken together, cannot tell: either their weighted score sits "
    "between the two thresholds, or no model found evidence it can judge by (all abstained, "
    "failed, or are unreliable on this kind of media)."
)


def _reliability_text(contribution: dict[str, Any]) -> str:
    if not contribution.get("validated"):
        return (
            "Unvalidated: never measured on a labelled set of this media type; counted with the "
            f"default weight {contribution.get('weight', 0):g}."
        )
    auc = contribution.get("auc")
    count = contribution.get("evaluation_count")
    measured = f"ROC AUC {auc:.2f}" if auc is not None else "no ROC AUC (one class only)"
    over = f" over {count} labelled items" if count else ""
    weight = contribution.get("weight", 0)
    counted = f"weight {weight:.2f}" if weight else "not counted (no better than chance)"
    return f"Measured: {measured}{over}; {counted}."


def limit_sentences(description: str) -> list[str]:
    """The sentences of a model description that state a limit of the model."""
    sentences = _SENTENCE_END.split((description or "").strip())
    return [s.strip() for s in sentences if s.strip() and _LIMIT_WORDS.search(s)]


def verdict_explanation(
    *, run: AnalysisRun, analyses: Iterable[DeepfakeAnalysis]
) -> VerdictExplanation:
    analyses = list(analyses)
    details = run.verdict_details or {}
    contributions = {c.get("model_name"): c for c in details.get("contributions") or []}
    reliability = [
        ModelReliabilityNote(
            model_name=name,
            validated=bool(contribution.get("validated")),
            text=_reliability_text(contribution),
            counted=bool(contribution.get("weight")),
        )
        for name, contribution in contributions.items()
        if contribution.get("status") == AnalysisStatus.COMPLETED
    ]
    abstentions = [
        (analysis.model_name, analysis.abstain_reason or "no reason given")
        for analysis in analyses
        if analysis.status == AnalysisStatus.ABSTAINED
    ]
    limits = []
    for analysis in analyses:
        limits.extend((analysis.model_name, s) for s in limit_sentences(analysis.model_description))
    return VerdictExplanation(
        run_id=str(run.pk),
        meaning=_meaning(run),
        thresholds=_thresholds(),
        inconclusive=INCONCLUSIVE_MEANING,
        reason=run.verdict_reason,
        abstentions=abstentions,
        reliability=reliability,
        limits=limits,
    )
