"""Upload through the API (or the `analyze` command) and watch the run finish on a real worker."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from media_analysis.choices import AnalysisStatus, RunStatus, Verdict
from media_analysis.models import AnalysisRun, Media
from tests.factories import AdminUserFactory, UserFactory
from tests.fixtures.pipeline import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_uploaded_video_is_analysed_by_every_model_and_gets_a_verdict(
    media_file, fake_inference, pipeline_worker
):
    client = APIClient()
    client.force_authenticate(UserFactory())
    clip = media_file("briefing.mp4")

    response = client.post(
        "/api/v1/media",
        {"media": SimpleUploadedFile(clip.name, clip.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    media_id = response.json()["data"]["id"]

    wait_for(lambda: Media.objects.get(pk=media_id).status in RunStatus.final())

    detail = client.get(f"/api/v1/media/{media_id}").json()["data"]
    assert detail["status"] == RunStatus.ANALYZED
    assert detail["latestRun"]["verdict"] == Verdict.FAKE
    assert detail["latestRun"]["fakeScore"] == pytest.approx(0.7)
    assert {a["status"] for a in detail["analyses"]} == {AnalysisStatus.COMPLETED}
    # The inference server received the stored file under its typed name, not the user's name.
    analyzed = [r for r in fake_inference.requests if r.path == "/analyze"]
    assert len(analyzed) == 3
    assert {r.filename for r in analyzed} == {f"{media_id}.mp4"}
    assert {r.size for r in analyzed} == {clip.stat().st_size}


def test_analyze_command_ingests_a_local_file_and_prints_the_verdict_table(
    media_file, fake_inference, pipeline_worker
):
    admin = AdminUserFactory()
    clip = media_file("local.mp4")
    out = io.StringIO()

    call_command("analyze", str(clip), "--wait", "--timeout", "30", stdout=out)

    output = out.getvalue()
    run = AnalysisRun.objects.get()
    assert run.media.owner == admin
    assert run.status == RunStatus.ANALYZED
    for model in fake_inference.models:
        assert model.name in output
    assert "verdict FAKE" in output and "fake score 70.0%" in output


def test_analyze_command_runs_only_the_models_asked_for(
    media_file, fake_inference, pipeline_worker
):
    user = UserFactory()
    chosen = fake_inference.models[1].name
    out = io.StringIO()

    call_command(
        "analyze",
        str(media_file("local.mp4")),
        "--user",
        user.email.upper(),
        "--models",
        chosen,
        "--wait",
        stdout=out,
    )

    run = AnalysisRun.objects.get(media__owner=user)
    assert [a.model_name for a in run.analyses.all()] == [chosen]
    assert chosen in out.getvalue()


def test_analyze_command_reports_bad_input_without_a_traceback(tmp_path, fake_inference):
    AdminUserFactory()
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")

    with pytest.raises(CommandError) as excinfo:
        call_command("analyze", str(text))

    assert "could not be read as media" in str(excinfo.value)
    assert Media.objects.count() == 0
