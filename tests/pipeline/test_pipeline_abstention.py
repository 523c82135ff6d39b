"""Abstention and declared formats over the real pipeline.

A model may answer "no evidence" (stored ABSTAINED with its reason, never a prediction, never a
failure, left out of the verdict), and may declare the formats it reads (offered nothing else).
Real Redis, PostgreSQL and Celery worker; the fake inference server over HTTP.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from drishtiksha.errors import ValidationFailed
from media_analysis import ml_client
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.events import ProgressEvent
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from monitoring.consistency import run_inconsistencies_list
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import WAIT_TIMEOUT_SECONDS, stored_media, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NO_METADATA = "no provenance metadata found; its absence says nothing"


def finished(run: AnalysisRun) -> AnalysisRun:
    def final() -> AnalysisRun | None:
        fresh = AnalysisRun.objects.get(pk=run.pk)
        return fresh if fresh.status in RunStatus.final() else None

    return wait_for(final, timeout=WAIT_TIMEOUT_SECONDS)


def png() -> dict:
    return {"media_type": MediaType.IMAGE, "extension": "png", "mimetype": "image/png"}


def test_an_abstaining_model_is_stored_as_no_evidence_and_left_out_of_the_verdict(
    fake_inference_factory, pipeline_worker, group_recorder
):
    fake = fake_inference_factory(
        [
            FakeModel("PROVENANCE-V1", image=True, abstain_reason=NO_METADATA),
            FakeModel("DISTIL-DIRE-V1", image=True, prediction="FAKE", confidence=0.8),
        ]
    )
    media = stored_media(**png())
    recorder = group_recorder(media.owner_id)

    done = finished(run_start(media=media))

    assert done.status == RunStatus.ANALYZED
    assert done.error_message == ""
    # Only the model that predicted counts: its fake probability is the score.
    assert (done.verdict, done.fake_score, done.agreement) == (Verdict.FAKE, 0.8, 1.0)
    abstained = DeepfakeAnalysis.objects.get(run=done, model_name="PROVENANCE-V1")
    assert abstained.status == AnalysisStatus.ABSTAINED
    assert abstained.abstain_reason == NO_METADATA
    assert (abstained.prediction, abstained.confidence) == (None, None)
    assert (abstained.error_message, abstained.attempts) == ("", 1)
    assert abstained.result_payload["abstained"] is True
    assert abstained.model_used == "PROVENANCE-V1"
    # An answer, not a failure: asked once, never retried.
    assert len(fake.analyze_requests("PROVENANCE-V1")) == 1

    client = APIClient()
    client.force_authenticate(media.owner)
    wire = {
        a["modelName"]: a
        for a in client.get(f"/api/v1/media/{media.pk}").json()["data"]["analyses"]
    }
    assert wire["PROVENANCE-V1"]["status"] == "ABSTAINED"
    assert wire["PROVENANCE-V1"]["abstainReason"] == NO_METADATA
    assert wire["PROVENANCE-V1"]["prediction"] is None
    assert wire["DISTIL-DIRE-V1"]["abstainReason"] == ""

    events = wait_for(
        lambda: (
            (found := recorder.events())
            and found[-1]["event"] == ProgressEvent.RUN_COMPLETED
            and found
        ),
        timeout=WAIT_TIMEOUT_SECONDS,
    )
    answer = next(
        e
        for e in events
        if e["event"] == ProgressEvent.ANALYSIS_COMPLETED and e["modelName"] == "PROVENANCE-V1"
    )
    assert answer["data"]["status"] == AnalysisStatus.ABSTAINED
    assert answer["data"]["abstainReason"] == NO_METADATA
    assert answer["data"]["prediction"] is None
    latest = events[-1]["data"]["media"]["latestRun"]["analyses"]
    assert {a["modelName"]: a["status"] for a in latest}["PROVENANCE-V1"] == "ABSTAINED"
    # The operator console agrees that such a run is rightly ANALYZED.
    assert [i for i in run_inconsistencies_list() if i.run_id == done.pk] == []


def test_a_run_whose_models_all_abstain_is_analyzed_without_a_fake_score(
    fake_inference_factory, pipeline_worker
):
    fake_inference_factory(
        [
            FakeModel("PROVENANCE-V1", image=True, abstain_reason=NO_METADATA),
            FakeModel("WATERMARK-V1", image=True, abstain_reason="no watermark found"),
        ]
    )

    done = finished(run_start(media=stored_media(**png())))

    assert done.status == RunStatus.ANALYZED
    assert (done.fake_score, done.agreement) == (None, None)
    assert done.verdict in (None, Verdict.INCONCLUSIVE)
    assert set(done.analyses.values_list("status", flat=True)) == {AnalysisStatus.ABSTAINED}
    assert dict(done.analyses.values_list("model_name", "abstain_reason")) == {
        "PROVENANCE-V1": NO_METADATA,
        "WATERMARK-V1": "no watermark found",
    }


def test_a_png_never_gets_a_model_that_reads_only_jpeg(fake_inference_factory, pipeline_worker):
    fake = fake_inference_factory(
        [
            FakeModel("ELA-JPEG-V1", image=True, accepted_formats=["jpg", "jpeg"]),
            FakeModel("DISTIL-DIRE-V1", image=True, prediction="REAL", confidence=0.7),
        ]
    )

    done = finished(run_start(media=stored_media(**png())))

    assert list(done.analyses.values_list("model_name", flat=True)) == ["DISTIL-DIRE-V1"]
    assert done.status == RunStatus.ANALYZED
    assert fake.analyze_requests("ELA-JPEG-V1") == []

    jpeg = stored_media(media_type=MediaType.IMAGE, extension="jpg", mimetype="image/jpeg")
    names = set(finished(run_start(media=jpeg)).analyses.values_list("model_name", flat=True))
    assert names == {"ELA-JPEG-V1", "DISTIL-DIRE-V1"}


def test_asking_for_a_model_on_a_format_it_does_not_read_is_refused(fake_inference_factory):
    fake_inference_factory([FakeModel("ELA-JPEG-V1", image=True, accepted_formats=["jpg", "jpeg"])])

    with pytest.raises(ValidationFailed, match=r"unable to analyse this image \(\.png\)"):
        run_start(media=stored_media(**png()), model_names=["ELA-JPEG-V1"])


@pytest.mark.parametrize(
    ("reason", "stored"),
    [(NO_METADATA, NO_METADATA), ("  ", ml_client.UNEXPLAINED_ABSTENTION)],
)
def test_the_client_reads_an_abstention_as_an_answer(fake_inference_factory, reason, stored):
    fake_inference_factory([FakeModel("PROVENANCE-V1", image=True, abstain_reason=reason)])

    result = ml_client.media_analyze(media=stored_media(**png()), model_name="PROVENANCE-V1")

    assert result.abstained and result.abstain_reason == stored
    assert (result.prediction, result.confidence) == (None, None)
    assert result.media_type == MediaType.IMAGE
