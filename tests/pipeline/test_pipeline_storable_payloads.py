"""Whatever strings or numbers an inference server sends, a valid result is stored, not lost."""

import math

import pytest

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.ml_client import storable_json
from media_analysis.pipeline.start import run_start
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media, wait_for


def test_nul_characters_and_non_finite_numbers_are_made_storable():
    raw = {
        "note": "Lavc59\x00\x00",
        "metrics": {"variance": math.nan, "max": math.inf, "min": 0.25, "k\x00ey": [-math.inf]},
        "frames": [{"label": "a\x00b", "score": 0.5}],
    }

    assert storable_json(raw) == {
        "note": "Lavc59",
        "metrics": {"variance": None, "max": None, "min": 0.25, "key": [None]},
        "frames": [{"label": "ab", "score": 0.5}],
    }


@pytest.mark.django_db(transaction=True)
def test_a_result_whose_text_carries_nul_characters_is_stored(
    fake_inference_factory, pipeline_worker
):
    fake_inference_factory([FakeModel("METADATA-V1", video=True, note="encoder: Lavc\x00 tag")])
    media = stored_media()

    run = run_start(media=media)
    wait_for(lambda: type(run).objects.get(pk=run.pk).status in RunStatus.final())

    analysis = run.analyses.get()
    assert analysis.status == AnalysisStatus.COMPLETED, analysis.error_message
    assert analysis.result_payload["note"] == "encoder: Lavc tag"
