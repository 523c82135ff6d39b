"""The verdict weighed and calibrated by what evaluations measured, and its plain-words reason."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.models import AnalysisRun, Evaluation, EvaluationStatus, ModelReliability
from media_analysis.pipeline.start import run_start
from media_analysis.verdict import verdict_compute
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media, wait_for

pytestmark = pytest.mark.django_db


def analysis(
    model_name: str,
    status: str = AnalysisStatus.COMPLETED,
    prediction: str | None = None,
    confidence: float | None = None,
    *,
    abstain_reason: str = "",
) -> SimpleNamespace:
    return SimpleNamespace(
        model_name=model_name,
        status=status,
        prediction=prediction,
        confidence=confidence,
        media_type=MediaType.IMAGE,
        abstain_reason=abstain_reason,
        error_message="",
    )


def table(*bins: tuple[int, int]) -> list[dict]:
    """A reliability table of (count, fakes) per bin, bins of equal width over [0, 1]."""
    size = len(bins)
    return [
        {
            "lower": number / size,
            "upper": (number + 1) / size,
            "count": count,
            "fakes": fakes,
            "mean_predicted": None,
            "observed_fake_rate": fakes / count if count else None,
        }
        for number, (count, fakes) in enumerate(bins)
    ]


# Ten items per bin, fakes in step with the bin: a model whose probabilities mean what they say.
HONEST_TABLE = table((10, 1), (10, 3), (10, 5), (10, 7), (10, 9))


def measured(
    model_name: str,
    *,
    auc: float | None,
    reliability_table: list[dict] = HONEST_TABLE,
    media_type: str = MediaType.IMAGE,
    status: str = EvaluationStatus.FINISHED,
    count: int = 50,
) -> ModelReliability:
    evaluation = Evaluation.objects.create(name=f"set for {model_name}", status=status)
    return ModelReliability.objects.create(
        evaluation=evaluation,
        model_name=model_name,
        media_type=media_type,
        count=count,
        auc=auc,
        reliability_table=reliability_table,
    )


def by_name(summary) -> dict:
    return {contribution.model_name: contribution for contribution in summary.contributions}


def test_a_model_no_better_than_chance_is_ignored_and_the_reason_says_so():
    measured("CHANCE", auc=0.5)

    summary = verdict_compute(
        analyses=[
            analysis("CHANCE", prediction="FAKE", confidence=0.9),
            analysis("OTHER", prediction="REAL", confidence=0.8),
        ]
    )

    # Only OTHER counts: its fake probability 0.2 is the score.
    assert (summary.verdict, summary.fake_score) == (Verdict.REAL, pytest.approx(0.2))
    chance = by_name(summary)["CHANCE"]
    assert (chance.weight, chance.validated, chance.auc) == (0.0, True, 0.5)
    assert "Ignored: CHANCE: no better than chance in evaluation (AUC 0.50)." in summary.reason


def test_a_model_never_evaluated_counts_with_the_default_weight_and_is_flagged(settings):
    settings.VERDICT_UNVALIDATED_WEIGHT = 0.5

    summary = verdict_compute(analyses=[analysis("NEW", prediction="FAKE", confidence=0.8)])

    assert (summary.verdict, summary.fake_score, summary.agreement) == (
        Verdict.FAKE,
        pytest.approx(0.8),
        1.0,
    )
    new = by_name(summary)["NEW"]
    assert (new.validated, new.weight, new.auc, new.evaluation_count) == (False, 0.5, None, None)
    assert new.note.startswith("unvalidated")
    assert summary.reason == (
        "The weighted score 0.80 is above the fake threshold 0.55. Only unvalidated models "
        "contributed (NEW): no evaluation has measured them, so each counted with the default "
        "weight 0.5."
    )


@pytest.mark.parametrize(("prior", "calibrated"), [(2, 0.3), (0, 0.25)])
def test_calibration_replaces_a_probability_by_its_bins_fake_rate_shrunk_toward_a_half(
    settings, prior, calibrated
):
    settings.VERDICT_CALIBRATION_PRIOR_ITEMS = prior
    # Of the 8 evaluated items this model scored 0.8 or more, only 2 were fake.
    measured("OVERSURE", auc=0.9, reliability_table=table((5, 0), (5, 1), (5, 3), (5, 4), (8, 2)))

    summary = verdict_compute(analyses=[analysis("OVERSURE", prediction="FAKE", confidence=0.9)])

    oversure = by_name(summary)["OVERSURE"]
    # (2 + prior / 2) / (8 + prior); weight 2 * (0.9 - 0.5).
    assert oversure.raw_probability == 0.9
    assert oversure.calibrated_probability == pytest.approx(calibrated)
    assert oversure.weight == pytest.approx(0.8)
    assert (oversure.validated, oversure.evaluation_count) == (True, 50)
    assert (summary.verdict, summary.fake_score) == (Verdict.REAL, pytest.approx(calibrated))


def test_a_bin_the_evaluation_never_filled_means_a_half():
    measured("SPARSE", auc=1.0, reliability_table=table((10, 0), (0, 0)))

    summary = verdict_compute(analyses=[analysis("SPARSE", prediction="FAKE", confidence=0.7)])

    assert by_name(summary)["SPARSE"].calibrated_probability == 0.5
    assert summary.verdict == Verdict.INCONCLUSIVE
    assert summary.reason.startswith("The weighted score 0.50 lies between the thresholds")


def test_measured_and_unvalidated_models_are_averaged_by_weight():
    # Perfect separation: weight 1; its top bin held 18 fakes of 18: (18 + 1) / (18 + 2) = 0.95.
    measured("SHARP", auc=1.0, reliability_table=table((18, 0), (0, 0), (0, 0), (0, 0), (18, 18)))

    summary = verdict_compute(
        analyses=[
            analysis("SHARP", prediction="FAKE", confidence=0.85),
            analysis("NEW", prediction="REAL", confidence=0.6),
        ]
    )

    # (1 * 0.95 + 0.5 * 0.4) / 1.5; only SHARP (weight 1 of 1.5) lies in the FAKE band.
    assert summary.fake_score == pytest.approx(1.15 / 1.5)
    assert (summary.verdict, summary.agreement) == (Verdict.FAKE, pytest.approx(2 / 3))
    assert "Unvalidated, counted with the default weight 0.5: NEW." in summary.reason


def test_when_every_model_abstains_the_verdict_is_inconclusive_with_the_reasons():
    summary = verdict_compute(
        analyses=[
            analysis("ELA", AnalysisStatus.ABSTAINED, abstain_reason="cannot read PNG"),
            analysis("META", AnalysisStatus.ABSTAINED, abstain_reason="no metadata found"),
        ]
    )

    assert (summary.verdict, summary.fake_score, summary.agreement, summary.completed) == (
        Verdict.INCONCLUSIVE,
        None,
        None,
        0,
    )
    assert summary.reason == (
        "No model found usable evidence: 2 abstained (ELA: cannot read PNG; "
        "META: no metadata found)."
    )
    assert [c.status for c in summary.contributions] == [AnalysisStatus.ABSTAINED] * 2


def test_when_every_answer_weighs_nothing_there_is_no_score():
    measured("WORSE", auc=0.3)

    summary = verdict_compute(analyses=[analysis("WORSE", prediction="FAKE", confidence=0.99)])

    assert (summary.verdict, summary.fake_score) == (Verdict.INCONCLUSIVE, None)
    assert summary.reason == (
        "No model found usable evidence: 1 weighing nothing "
        "(WORSE: no better than chance in evaluation (AUC 0.30))."
    )


def test_the_latest_finished_measurement_of_the_same_media_type_is_used():
    measured("M", auc=0.5)
    measured("M", auc=0.9)
    # None of these replace it: another media type, a timed-out evaluation, no AUC.
    measured("M", auc=1.0, media_type=MediaType.VIDEO)
    measured("M", auc=1.0, status=EvaluationStatus.TIMED_OUT)
    measured("M", auc=None)

    summary = verdict_compute(analyses=[analysis("M", prediction="FAKE", confidence=0.9)])

    assert by_name(summary)["M"].auc == 0.9
    assert by_name(summary)["M"].weight == pytest.approx(0.8)


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_stores_the_reason_and_each_models_contribution(
    fake_inference_factory, pipeline_worker
):
    fake_inference_factory(
        [
            FakeModel("CHANCE", image=True, prediction="FAKE", confidence=0.9),
            FakeModel("NEW", image=True, prediction="REAL", confidence=0.7),
        ]
    )
    measured("CHANCE", auc=0.45)
    media = stored_media(media_type=MediaType.IMAGE, extension="jpg", mimetype="image/jpeg")

    run = run_start(media=media)
    done = wait_for(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=RunStatus.final()).first()
    )

    assert (done.verdict, done.fake_score) == (Verdict.REAL, pytest.approx(0.3))
    assert done.verdict_reason.startswith("The weighted score 0.30 is below the real threshold")
    assert "Ignored: CHANCE: no better than chance in evaluation (AUC 0.45)." in done.verdict_reason
    contributions = {c["model_name"]: c for c in done.verdict_details["contributions"]}
    assert contributions["CHANCE"]["weight"] == 0.0
    assert contributions["CHANCE"]["validated"] is True
    assert (contributions["NEW"]["weight"], contributions["NEW"]["validated"]) == (0.5, False)
    assert contributions["NEW"]["raw_probability"] == pytest.approx(0.3)
