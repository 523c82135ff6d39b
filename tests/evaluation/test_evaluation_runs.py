"""Evaluations end to end: `manage.py evaluate` and the admin upload, over the real pipeline.

The fake inference server gives every item the same answer per model, so each stored number
follows from that answer and the labels: two REAL and two FAKE images, one of each in audio.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from media_analysis.choices import MediaType
from media_analysis.models import Evaluation, EvaluationStatus, ModelReliability
from tests.factories import AdminUserFactory
from tests.fakes.inference_server import Failure, FakeModel
from tests.fixtures.media_files import make_audio, make_image
from tests.fixtures.pipeline import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LABELS = [
    ("real-1.jpg", "REAL"),
    ("real-2.png", "REAL"),
    ("fake-1.jpg", "FAKE"),
    ("fake-2.png", "FAKE"),
    ("voice-real.wav", "REAL"),
    ("voice-fake.wav", "FAKE"),
]
BAD_LABELS = [
    ("missing.jpg", "FAKE"),
    ("real-1.jpg", "FAKE"),
    ("maybe.jpg", "PERHAPS"),
    ("not-media.jpg", "REAL"),
]


def _models() -> list[FakeModel]:
    return [
        FakeModel("IMG-ALARMIST", image=True, prediction="FAKE", confidence=0.8),
        FakeModel("IMG-TRUSTING", image=True, prediction="REAL", confidence=0.7),
        FakeModel("IMG-BROKEN", image=True, failure=Failure.ERROR_422),
        FakeModel("VOICE", audio=True, prediction="FAKE", confidence=0.6),
    ]


def _write_set(folder: Path, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, (name, _) in enumerate(LABELS):
        if name.endswith(".wav"):
            make_audio(folder / name, seconds=1.0 + index / 10)
        else:
            make_image(folder / name, size=f"{64 + 8 * index}x48")
    (folder / "maybe.jpg").write_bytes((folder / "real-1.jpg").read_bytes())
    (folder / "not-media.jpg").write_text("this is not a picture")
    with (folder / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("filename", "label"), *rows])
    return folder


def _reliabilities(evaluation: Evaluation) -> dict[str, ModelReliability]:
    return {row.model_name: row for row in evaluation.reliabilities.all()}


def test_evaluate_measures_every_model_from_the_pipelines_answers(
    tmp_path, fake_inference_factory, pipeline_worker, capsys
):
    fake_inference_factory(_models())
    owner = AdminUserFactory()
    folder = _write_set(tmp_path / "set", LABELS + BAD_LABELS)

    call_command("evaluate", str(folder), "--owner", owner.email, "--timeout", "60")

    evaluation = Evaluation.objects.get()
    assert (evaluation.status, evaluation.item_count) == (EvaluationStatus.FINISHED, 6)
    rows = _reliabilities(evaluation)
    assert set(rows) == {"IMG-ALARMIST", "IMG-TRUSTING", "IMG-BROKEN", "VOICE"}

    # Always FAKE at 0.8: every pair tied (AUC 0.5), right on the two fakes, all fakes caught.
    alarmist = rows["IMG-ALARMIST"]
    assert (alarmist.media_type, alarmist.count, alarmist.abstained, alarmist.failed) == (
        MediaType.IMAGE,
        4,
        0,
        0,
    )
    assert (alarmist.auc, alarmist.accuracy, alarmist.precision, alarmist.recall) == (
        0.5,
        0.5,
        0.5,
        1.0,
    )
    top_bin = alarmist.reliability_table[4]
    assert (top_bin["count"], top_bin["fakes"], top_bin["observed_fake_rate"]) == (4, 2, 0.5)
    assert top_bin["mean_predicted"] == pytest.approx(0.8)
    assert sum(row["count"] for row in alarmist.reliability_table) == 4

    # Always REAL at 0.7 (fake probability 0.3): no FAKE predicted, so no precision, no recall.
    trusting = rows["IMG-TRUSTING"]
    assert (trusting.auc, trusting.accuracy, trusting.precision, trusting.recall) == (
        0.5,
        0.5,
        None,
        0.0,
    )
    assert trusting.reliability_table[1]["count"] == 4

    broken = rows["IMG-BROKEN"]
    assert (broken.count, broken.failed, broken.auc, broken.accuracy) == (0, 4, None, None)

    voice = rows["VOICE"]
    assert (voice.media_type, voice.count, voice.auc, voice.accuracy) == (
        MediaType.AUDIO,
        2,
        0.5,
        0.5,
    )
    assert voice.thresholds["verdict_fake_threshold"] == 0.55

    skipped = {row["name"]: row["reason"] for row in evaluation.skipped}
    assert skipped["missing.jpg"] == "no such file in the set"
    assert skipped["maybe.jpg"] == "unknown label 'PERHAPS' (REAL or FAKE)"
    assert skipped["not-media.jpg"].startswith("The file could not be read as media")
    assert set(skipped) == {"missing.jpg", "real-1.jpg", "maybe.jpg", "not-media.jpg"}
    assert evaluation.items.count() == 6
    assert all(item.media.owner_id == owner.pk for item in evaluation.items.all())

    out, err = capsys.readouterr()
    assert "| IMG-ALARMIST | Image      | 4 | 0.50 | 0.50     | 0.50      | 1.00   | 0" in out
    assert "| IMG-BROKEN   | Image      | 0 | —    | —        | —         | —      | 0" in out
    assert "skipped not-media.jpg: The file could not be read as media" in err


def test_evaluate_reads_a_zip_with_its_labels_inside(
    tmp_path, fake_inference_factory, pipeline_worker
):
    fake_inference_factory(_models())
    owner = AdminUserFactory()
    folder = _write_set(tmp_path / "set", LABELS)
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in folder.iterdir():
            bundle.write(path, path.name)

    call_command("evaluate", str(archive), "--timeout", "60")

    evaluation = Evaluation.objects.get()
    assert evaluation.created_by == owner
    assert _reliabilities(evaluation)["IMG-ALARMIST"].count == 4


def test_evaluate_without_an_owner_to_upload_as_stops_and_says_why(tmp_path):
    folder = _write_set(tmp_path / "set", LABELS)

    with pytest.raises(CommandError, match="No superuser exists"):
        call_command("evaluate", str(folder))

    assert not Evaluation.objects.exists()


def _zip_of(folder: Path) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, f"set/{path.name}" if path.name != "labels.csv" else path.name)
    buffer.seek(0)
    buffer.name = "set.zip"
    return buffer


def test_staff_upload_a_zip_and_a_housekeeping_task_finishes_the_evaluation(
    tmp_path, settings, fake_inference_factory, pipeline_worker
):
    settings.EVALUATION_POLL_SECONDS = 0.2
    fake_inference_factory(_models())
    staff = AdminUserFactory()
    client = Client()
    client.force_login(staff)
    rows = [(f"set/{name}", label) for name, label in LABELS]
    archive = _zip_of(_write_set(tmp_path / "set", rows))

    response = client.post(
        reverse("admin:media_analysis_evaluation_add"), {"name": "Spring set", "archive": archive}
    )

    assert response.status_code == 302
    evaluation = Evaluation.objects.get()
    assert (evaluation.name, evaluation.created_by, evaluation.item_count) == (
        "Spring set",
        staff,
        6,
    )
    assert sorted(evaluation.items.values_list("label", flat=True)) == ["FAKE"] * 3 + ["REAL"] * 3
    finished = wait_for(
        lambda: Evaluation.objects.filter(
            pk=evaluation.pk, status=EvaluationStatus.FINISHED
        ).first()
    )
    assert _reliabilities(finished)["IMG-ALARMIST"].auc == 0.5
    page = client.get(reverse("admin:media_analysis_evaluation_change", args=[evaluation.pk]))
    assert page.status_code == 200
    assert "<td>IMG-ALARMIST</td><td>Image</td><td>4</td><td>0.50</td>" in page.content.decode()


def test_an_archive_without_labels_is_refused_before_anything_is_stored(tmp_path):
    staff = AdminUserFactory()
    client = Client()
    client.force_login(staff)
    folder = _write_set(tmp_path / "set", LABELS)
    (folder / "labels.csv").unlink()

    response = client.post(
        reverse("admin:media_analysis_evaluation_add"),
        {"name": "No labels", "archive": _zip_of(folder)},
    )

    assert response.status_code == 200
    assert "The archive has no labels.csv." in response.content.decode()
    assert not Evaluation.objects.exists()
