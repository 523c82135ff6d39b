"""The verdict is never shown alone: on real pipeline runs, the run page, the media page and the
PDF say what it means, the thresholds, why it came out so, which models found no evidence and
why, how reliable each model is measured to be (or that it never was), and the models' limits."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfReader
from rest_framework.test import APIClient

from media_analysis.choices import RunStatus, Verdict
from media_analysis.models import AnalysisRun, Media
from tests.factories import UserFactory
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NO_METADATA = "no provenance metadata found; its absence says nothing"
SPECTRUM_LIMITS = "Heuristic baseline, not a trained deepfake model. It measures spectra."


def _analysed(client: APIClient, path) -> AnalysisRun:
    response = client.post(
        "/api/v1/media",
        {"media": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    media_id = response.json()["data"]["id"]
    wait_for(lambda: Media.objects.get(pk=media_id).status in RunStatus.final())
    return AnalysisRun.objects.get(media_id=media_id)


def _pdf_text(client: Client, run: AnalysisRun) -> str:
    pdf = client.get(f"/api/v1/pdf/report/run/{run.pk}").content
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def _squash(html: str) -> str:
    return " ".join(html.split())


@pytest.fixture
def user_clients():
    user = UserFactory()
    api = APIClient()
    api.force_authenticate(user)
    page = Client()
    page.force_login(user)
    return api, page


def test_a_run_whose_only_model_found_nothing_is_inconclusive_and_says_why(
    media_file, fake_inference_factory, pipeline_worker, user_clients
):
    fake_inference_factory(
        [FakeModel("PROVENANCE-METADATA-V1", image=True, abstain_reason=NO_METADATA)]
    )
    api, page = user_clients

    run = _analysed(api, media_file("still.png"))

    assert run.status == RunStatus.ANALYZED
    assert run.verdict == Verdict.INCONCLUSIVE and run.fake_score is None
    for html in (page.get(f"/runs/{run.pk}/"), page.get(f"/media/{run.media_id}/")):
        text = _squash(html.content.decode())
        assert "What this verdict means" in text
        assert (
            "Inconclusive: the evidence does not lean clearly either way, or there is none" in text
        )
        assert "This is not a finding that the media is authentic" in text
        assert "Why:" in text and "abstained" in run.verdict_reason
        assert "Models that found no evidence" in text and NO_METADATA in text
        assert "above 55 % reads" in text and "below 45 %" in text
    pdf = _pdf_text(page, run)
    assert "What this verdict means" in pdf and NO_METADATA in pdf
    assert "This is not a finding that the media is authentic" in pdf


def test_an_unvalidated_model_is_flagged_and_its_stated_limits_are_shown(
    media_file, fake_inference_factory, pipeline_worker, user_clients
):
    fake_inference_factory(
        [
            FakeModel(
                "FREQUENCY-SPECTRUM-V1",
                image=True,
                prediction="REAL",
                confidence=0.9,
                description=SPECTRUM_LIMITS,
            )
        ]
    )
    api, page = user_clients

    run = _analysed(api, media_file("still.png"))

    assert run.verdict == Verdict.REAL
    contribution = run.verdict_details["contributions"][0]
    assert contribution["validated"] is False
    text = _squash(page.get(f"/runs/{run.pk}/").content.decode())
    assert "Likely authentic: the weighted probability of manipulation is 10 %" in text
    assert "this does not prove that the media is genuine" in text
    assert 'data-validated="no"' in text and "Unvalidated: never measured" in text
    assert "Heuristic baseline, not a trained deepfake model." in text
    api_run = api.get(f"/api/v1/media/{run.media_id}").json()["data"]["latestRun"]
    assert api_run["verdictReason"] == run.verdict_reason
    assert api_run["verdictDetails"]["contributions"][0]["validated"] is False
    assert api_run["verdictDetails"]["contributions"][0]["modelName"] == "FREQUENCY-SPECTRUM-V1"
    pdf = _pdf_text(page, run)
    assert "Unvalidated: never measured" in pdf
    assert "Limits stated by the models" in pdf and "Heuristic baseline" in pdf
