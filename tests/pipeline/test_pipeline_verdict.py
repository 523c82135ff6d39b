"""THE verdict function, at and around its thresholds, for models no evaluation has measured.

Unvalidated models all weigh the same, so the weighted score is the plain mean; the measured
reliabilities are tested in tests/media_analysis/test_verdict_reliability.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from media_analysis.choices import AnalysisStatus, Verdict
from media_analysis.verdict import fake_probability, verdict_compute

# The verdict looks up the models' measured reliability (none here).
pytestmark = pytest.mark.django_db


def analysis(
    status: str, prediction: str | None = None, confidence: float | None = None, **fields
) -> SimpleNamespace:
    fields = {"model_name": "MODEL", "media_type": "VIDEO", "abstain_reason": "", **fields}
    return SimpleNamespace(
        status=status, prediction=prediction, confidence=confidence, error_message="", **fields
    )


def completed(prediction: str, confidence: float) -> SimpleNamespace:
    return analysis(AnalysisStatus.COMPLETED, prediction, confidence)


@pytest.mark.parametrize(
    ("analyses", "verdict", "fake_score"),
    [
        # A single model's fake probability on either side of, and exactly on, each threshold.
        ([completed("FAKE", 0.56)], Verdict.FAKE, 0.56),
        ([completed("FAKE", 0.55)], Verdict.INCONCLUSIVE, 0.55),
        ([completed("FAKE", 0.5500001)], Verdict.FAKE, 0.5500001),
        ([completed("REAL", 0.55)], Verdict.INCONCLUSIVE, 0.45),
        ([completed("REAL", 0.5500001)], Verdict.REAL, 0.4499999),
        ([completed("REAL", 0.54)], Verdict.INCONCLUSIVE, 0.46),
        # Means: (0.6 + 0.5) / 2 = 0.55 exactly, and (0.9 + 0.1) / 2 = 0.5.
        ([completed("FAKE", 0.6), completed("FAKE", 0.5)], Verdict.INCONCLUSIVE, 0.55),
        ([completed("FAKE", 0.9), completed("REAL", 0.9)], Verdict.INCONCLUSIVE, 0.5),
        ([completed("REAL", 0.9), completed("REAL", 0.7)], Verdict.REAL, 0.2),
        ([completed("FAKE", 1.0), completed("FAKE", 0.0)], Verdict.INCONCLUSIVE, 0.5),
    ],
)
def test_verdict_follows_the_mean_fake_probability(settings, analyses, verdict, fake_score):
    settings.VERDICT_FAKE_THRESHOLD, settings.VERDICT_REAL_THRESHOLD = 0.55, 0.45

    summary = verdict_compute(analyses=analyses)

    assert summary.verdict == verdict
    assert summary.fake_score == pytest.approx(fake_score, abs=1e-12)
    assert summary.completed == len(analyses)


def test_agreement_is_the_share_of_models_predicting_the_verdict():
    summary = verdict_compute(
        analyses=[completed("FAKE", 0.9), completed("FAKE", 0.8), completed("REAL", 0.6)]
    )

    assert (summary.verdict, summary.agreement) == (Verdict.FAKE, pytest.approx(2 / 3))
    assert summary.label == "Likely deepfake"


def test_for_an_inconclusive_verdict_the_unsure_models_are_the_agreeing_ones():
    confident_but_opposed = verdict_compute(
        analyses=[completed("FAKE", 0.99), completed("REAL", 0.99)]
    )
    all_unsure = verdict_compute(analyses=[completed("FAKE", 0.52), completed("REAL", 0.51)])
    one_unsure = verdict_compute(
        analyses=[completed("FAKE", 0.8), completed("REAL", 0.7), completed("FAKE", 0.5)]
    )

    assert (confident_but_opposed.verdict, confident_but_opposed.agreement) == (
        Verdict.INCONCLUSIVE,
        0.0,
    )
    assert (all_unsure.verdict, all_unsure.agreement) == (Verdict.INCONCLUSIVE, 1.0)
    # Probabilities 0.8, 0.3, 0.5: mean 0.533…, inconclusive; only the 0.5 lies in the band.
    assert (one_unsure.verdict, one_unsure.agreement) == (
        Verdict.INCONCLUSIVE,
        pytest.approx(1 / 3),
    )


def test_only_completed_analyses_count():
    summary = verdict_compute(
        analyses=[
            completed("REAL", 0.9),
            analysis(AnalysisStatus.FAILED),
            analysis(AnalysisStatus.PROCESSING, "FAKE", 1.0),
        ]
    )

    assert (summary.verdict, summary.fake_score, summary.agreement, summary.completed) == (
        Verdict.REAL,
        pytest.approx(0.1),
        1.0,
        1,
    )


def test_no_completed_analysis_is_inconclusive_without_a_score_and_says_why():
    summary = verdict_compute(analyses=[analysis(AnalysisStatus.FAILED, model_name="ELA")])

    assert (summary.verdict, summary.fake_score, summary.agreement, summary.completed) == (
        Verdict.INCONCLUSIVE,
        None,
        None,
        0,
    )
    assert summary.reason == "No model found usable evidence: 1 failed (ELA: failed)."


def test_thresholds_come_from_the_settings(settings):
    settings.VERDICT_FAKE_THRESHOLD, settings.VERDICT_REAL_THRESHOLD = 0.8, 0.2

    assert verdict_compute(analyses=[completed("FAKE", 0.7)]).verdict == Verdict.INCONCLUSIVE
    assert verdict_compute(analyses=[completed("REAL", 0.7)]).verdict == Verdict.INCONCLUSIVE
    assert verdict_compute(analyses=[completed("FAKE", 0.81)]).verdict == Verdict.FAKE


def test_fake_probability_reads_the_prediction():
    assert fake_probability(prediction="FAKE", confidence=0.8) == 0.8
    # Exact on the values as written: 1 - 0.8 is 0.2, not 0.19999999999999996.
    assert fake_probability(prediction="REAL", confidence=0.8) == 0.2
