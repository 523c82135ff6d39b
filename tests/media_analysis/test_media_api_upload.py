"""POST /api/v1/media: real generated media in, 202 or a precise 4xx out, nothing left behind.

The answer comes after the cheap checks and the store; ffprobe and ffmpeg run when the run is
dispatched (`upload_dispatched` does that work here), and a file only they can refuse gets a
FAILED run saying why instead of a 4xx.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import ffmpeg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.services.prepare import REFUSED_PREFIX
from tests.factories import UserFactory
from tests.fixtures.media_files import make_audio, make_video, stored_files
from tests.fixtures.pipeline import upload_dispatched
from tests.media_analysis.test_media_formats import ACCEPTED

URL = "/api/v1/media"
pytestmark = pytest.mark.django_db


def _upload(client, path=None, *, name=None, content=None, field="media", **extra):
    data = dict(extra)
    if path is not None or content is not None:
        body = content if content is not None else path.read_bytes()
        data[field] = SimpleUploadedFile(name or path.name, body)
    return client.post(URL, data, format="multipart")


def _detail(client, media_id) -> dict:
    response = client.get(f"{URL}/{media_id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


@pytest.fixture
def started_programs(monkeypatch) -> list[str]:
    """The name of every program started from here on (ffprobe and ffmpeg among them)."""
    started: list[str] = []

    class RecordedPopen(subprocess.Popen):
        def __init__(self, args, *rest, **options):
            program = args[0] if isinstance(args, list | tuple) else str(args).split()[0]
            started.append(Path(str(program)).name)
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", RecordedPopen)
    return started


def test_upload_is_answered_before_the_probe_and_its_dispatch_prepares_it(
    owner_client, media_file, fake_inference, settings, started_programs
):
    clip = media_file("interview.mp4", seconds=2)
    started_programs.clear()

    response = _upload(owner_client, clip)

    # As answered: stored and queued, with neither ffprobe nor ffmpeg started for it.
    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["status"] == RunStatus.QUEUED
    assert data["metadata"] == {} and data["hasAudio"] is None
    assert data["thumbnailUrl"] is None
    assert data["latestRun"]["status"] == RunStatus.QUEUED
    assert data["latestRun"]["analyses"] == []
    assert started_programs == []
    media = Media.objects.get(pk=data["id"])
    assert media.prepared_at is None and not media.thumbnail
    assert not DeepfakeAnalysis.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == [f"videos/{media.pk}.mp4"]
    assert fake_inference.analyze_requests() == []

    media = upload_dispatched(media.pk)

    assert {"ffprobe", "ffmpeg"} <= set(started_programs)
    assert media.prepared_at is not None
    assert media.metadata["video"]["width"] == 160 and media.has_audio is True
    assert media.thumbnail.name == f"thumbnails/{media.pk}.jpg"
    run = media.latest_run
    assert run.status == RunStatus.QUEUED and run.error_message == ""
    analyses = list(run.analyses.values_list("model_name", "status"))
    assert sorted(analyses) == sorted(
        (model.name, AnalysisStatus.PENDING) for model in fake_inference.models
    )


def test_the_answer_writes_three_rows_and_reads_back_only_the_runs_analyses(
    owner_client, media_file, fake_inference
):
    """The upload's transaction looks for an earlier copy and writes the media, its run and the
    link between them: the new row needs no lock and no look for other runs. The answer is made
    from what was written; only the run's analyses (none yet) are read for it."""
    clip = media_file("interview.mp4", seconds=1)

    with CaptureQueriesContext(connection) as queries:
        response = _upload(owner_client, clip)

    assert response.status_code == 202, response.content
    statements = [query["sql"] for query in queries.captured_queries]
    on_media_tables = [sql.split()[0] for sql in statements if '"media_analysis_' in sql]
    assert on_media_tables == ["SELECT", "INSERT", "INSERT", "UPDATE", "SELECT"], statements
    # One statement more: the upload's row of the audit trail, in the upload's transaction.
    on_audit_table = [sql.split()[0] for sql in statements if '"audit_auditevent"' in sql]
    assert on_audit_table == ["INSERT"], statements
    assert '"media_analysis_deepfakeanalysis"' in statements[-1]
    assert not any("FOR UPDATE" in sql for sql in statements)
    # One savepoint: the upload's own transaction, inside the test's.
    assert sum(sql.startswith("SAVEPOINT") for sql in statements) == 1, statements
    data = response.json()["data"]
    run = AnalysisRun.objects.get(media_id=data["id"])
    assert (data["latestAnalysisRunId"], data["latestRun"]["id"]) == (str(run.pk), str(run.pk))
    assert (data["latestRun"]["runNumber"], data["latestRun"]["analyses"]) == (1, [])


def test_video_upload_is_accepted_stored_queued_and_then_probed(
    owner, owner_client, media_file, fake_inference, settings
):
    clip = media_file("interview.mp4", seconds=2)

    response = _upload(owner_client, clip, description="  From the press conference  ")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["success"] is True and body["statusCode"] == 202
    data = body["data"]
    assert data["filename"] == "interview.mp4"
    assert data["mediaType"] == MediaType.VIDEO
    assert data["mimetype"] == "video/mp4"
    assert data["status"] == RunStatus.QUEUED
    assert data["size"] == clip.stat().st_size
    assert data["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert data["description"] == "From the press conference"
    assert data["duplicateOf"] is None
    assert data["url"] == f"http://testserver/api/v1/media/{data['id']}/file"
    run = data["latestRun"]
    assert run["runNumber"] == 1 and run["status"] == RunStatus.QUEUED
    assert run["analyses"] == []

    upload_dispatched(data["id"])

    data = _detail(owner_client, data["id"])
    assert data["status"] == RunStatus.QUEUED
    assert data["hasAudio"] is True
    assert data["metadata"]["video"]["width"] == 160
    assert data["metadata"]["audio"]["codec"] == "aac"
    assert data["thumbnailUrl"] == f"http://testserver/api/v1/media/{data['id']}/thumbnail"
    run = data["latestRun"]
    assert run["runNumber"] == 1 and run["status"] == RunStatus.QUEUED
    assert sorted(a["modelName"] for a in run["analyses"]) == sorted(
        model.name for model in fake_inference.models
    )
    assert {a["status"] for a in run["analyses"]} == {AnalysisStatus.PENDING}

    media = Media.objects.get(pk=data["id"])
    assert media.owner == owner
    assert media.file.name == f"videos/{media.pk}.mp4"
    assert media.thumbnail.name == f"thumbnails/{media.pk}.jpg"
    assert stored_files(settings.MEDIA_ROOT) == sorted(
        [f"videos/{media.pk}.mp4", f"thumbnails/{media.pk}.jpg"]
    )
    assert media.file.read() == clip.read_bytes()


FOLDERS = {MediaType.VIDEO: "videos", MediaType.IMAGE: "images", MediaType.AUDIO: "audio"}


@pytest.mark.parametrize(("name", "media_type"), ACCEPTED.items())
def test_every_accepted_format_is_stored_queued_and_then_probed(
    owner_client, media_file, fake_inference, name, media_type
):
    response = _upload(owner_client, media_file(name))

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["mediaType"] == media_type
    assert data["status"] == RunStatus.QUEUED and data["metadata"] == {}

    media = upload_dispatched(data["id"])

    # Prepared, not refused (the fake's models are video-only: other types then find no model).
    assert media.prepared_at is not None
    assert not media.latest_run.error_message.startswith(REFUSED_PREFIX)
    data = _detail(owner_client, media.pk)
    assert (data["hasAudio"] is None) is (media_type != MediaType.VIDEO)
    assert media.file.name == f"{FOLDERS[media_type]}/{media.pk}.{name.rsplit('.', 1)[1]}"
    assert bool(media.thumbnail) is (media_type != MediaType.AUDIO)
    assert data["metadata"]["format"]["size"] == media.size


def test_the_seed_clients_file_field_is_accepted(owner_client, media_file, fake_inference):
    response = _upload(owner_client, media_file("clip.webm"), field="file")

    assert response.status_code == 202, response.content
    assert response.json()["data"]["mimetype"] == "video/webm"


def test_same_content_again_points_at_the_earlier_upload(owner_client, media_file, fake_inference):
    clip = media_file("clip.mp4")
    first = _upload(owner_client, clip).json()["data"]

    second = _upload(owner_client, clip, name="renamed.mp4")

    assert second.status_code == 202
    assert second.json()["data"]["duplicateOf"] == first["id"]
    assert Media.objects.count() == 2


def test_another_users_identical_upload_is_not_a_duplicate(
    owner_client, media_file, fake_inference, api_client
):
    clip = media_file("clip.mp4")
    _upload(owner_client, clip)
    api_client.force_authenticate(UserFactory())

    response = _upload(api_client, clip)

    assert response.json()["data"]["duplicateOf"] is None


def test_requested_models_limit_the_run(owner_client, media_file, fake_inference):
    chosen = fake_inference.models[0].name

    response = _upload(owner_client, media_file("clip.mp4"), models=chosen)

    assert response.status_code == 202, response.content
    run = response.json()["data"]["latestRun"]
    assert run["requestedModels"] == [chosen] and run["analyses"] == []

    media = upload_dispatched(response.json()["data"]["id"])

    assert list(media.latest_run.analyses.values_list("model_name", flat=True)) == [chosen]
    assert media.latest_run.requested_models == [chosen]


def test_inference_server_down_still_accepts_the_upload(owner_client, media_file, settings):
    settings.ML_SERVER_URL = "http://127.0.0.1:9"

    response = _upload(owner_client, media_file("clip.mp4"))

    assert response.status_code == 202, response.content
    run = AnalysisRun.objects.get()
    assert run.status == RunStatus.QUEUED


def test_original_name_is_sanitised_for_display(owner_client, media_file, fake_inference):
    response = _upload(owner_client, media_file("clip.mp4"), name="../../etc/evil\x07.mp4")

    assert response.status_code == 202
    data = response.json()["data"]
    assert data["filename"] == "evil.mp4"
    assert Media.objects.get().file.name == f"videos/{data['id']}.mp4"


def _truncated(media_file, tmp_path):
    whole = media_file("whole.mp4", seconds=2).read_bytes()
    return whole[: len(whole) // 2]


def _with_zip_appended(path) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.txt", "smuggled")
    return path.read_bytes() + archive.getvalue()


BAD_UPLOADS = {
    "zero bytes": (lambda mf, tmp: ("empty.mp4", b""), 400, "empty"),
    "text renamed .mp4": (
        lambda mf, tmp: ("notes.mp4", b"meeting notes, definitely not a video\n" * 20),
        400,
        "could not be read",
    ),
    "png named .mp4": (
        lambda mf, tmp: ("still.mp4", mf("s.png").read_bytes()),
        415,
        "does not match",
    ),
    "mp4 named .jpg": (
        lambda mf, tmp: ("clip.jpg", mf("c.mp4").read_bytes()),
        415,
        "does not match",
    ),
    "unsupported extension": (lambda mf, tmp: ("doc.pdf", b"%PDF-1.7\n" * 10), 415, "not accepted"),
    "no extension": (lambda mf, tmp: ("clip", mf("c.mp4").read_bytes()), 415, "no extension"),
    "png with a zip appended": (
        lambda mf, tmp: ("still.png", _with_zip_appended(mf("s.png"))),
        415,
        "does not match",
    ),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_answer_4xx_and_leave_nothing(
    case, owner_client, media_file, tmp_path, fake_inference, settings, upload_temp_dir
):
    make, status, phrase = BAD_UPLOADS[case]
    name, content = make(media_file, tmp_path)

    response = _upload(owner_client, name=name, content=content)

    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and body["statusCode"] == status
    assert phrase in body["message"]
    assert "Traceback" not in response.content.decode()
    assert Media.objects.count() == 0 and AnalysisRun.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []
    assert list(upload_temp_dir.iterdir()) == []


def _refused_before_any_model(client, response, *, fake_inference, settings) -> Media:
    """Dispatch an accepted upload the probe refuses; check it reached no model; return it."""
    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["status"] == RunStatus.QUEUED and data["latestRun"]["analyses"] == []

    media = upload_dispatched(data["id"])

    run = media.latest_run
    assert run.status == RunStatus.FAILED and media.status == RunStatus.FAILED
    assert run.error_message.startswith(REFUSED_PREFIX)
    assert not DeepfakeAnalysis.objects.filter(run__media=media).exists()
    assert fake_inference.analyze_requests() == []
    assert media.prepared_at is None and media.metadata == {} and not media.thumbnail
    # The original is kept, so that the user sees what was refused and why; no poster is made.
    assert stored_files(settings.MEDIA_ROOT) == [media.file.name]
    shown = client.get(f"{URL}/{media.pk}")
    assert shown.status_code == 200, shown.content
    assert "Traceback" not in shown.content.decode()
    assert shown.json()["data"]["status"] == RunStatus.FAILED
    assert shown.json()["data"]["latestRun"]["errorMessage"] == run.error_message
    return media


REFUSED_BY_THE_PROBE = {
    "truncated video": (lambda mf, tmp: ("cut.mp4", _truncated(mf, tmp)), "could not be read"),
    "mp4 video renamed .m4a": (
        lambda mf, tmp: ("clip.m4a", mf("c.mp4").read_bytes()),
        "does not match",
    ),
    "ogg holding theora video": (
        lambda mf, tmp: ("clip.ogg", make_video(tmp / "c.ogg").read_bytes()),
        "does not match",
    ),
}


@pytest.mark.parametrize("case", REFUSED_BY_THE_PROBE)
def test_bad_media_only_the_probe_can_tell_fails_its_run_before_any_model(
    case, owner_client, media_file, tmp_path, fake_inference, settings, upload_temp_dir
):
    make, phrase = REFUSED_BY_THE_PROBE[case]
    name, content = make(media_file, tmp_path)

    response = _upload(owner_client, name=name, content=content)

    media = _refused_before_any_model(
        owner_client, response, fake_inference=fake_inference, settings=settings
    )
    assert phrase in media.latest_run.error_message
    assert list(upload_temp_dir.iterdir()) == []


@pytest.mark.parametrize("audio", [True, False], ids=["with sound", "silent"])
@pytest.mark.parametrize(
    ("source", "sent_as", "codec"),
    [("clip.mp4", "clip.m4a", "h264"), ("clip.ogg", "clip.ogg", "theora")],
    ids=["mp4 as m4a", "theora ogg"],
)
def test_video_in_an_audio_container_is_refused_as_video_not_audio(
    source, sent_as, codec, audio, owner_client, tmp_path, fake_inference, settings, upload_temp_dir
):
    """Refused for its video track before anything else: a silent one too, not as "no audio"."""
    clip = make_video(tmp_path / source, audio=audio)

    response = _upload(owner_client, name=sent_as, content=clip.read_bytes())

    media = _refused_before_any_model(
        owner_client, response, fake_inference=fake_inference, settings=settings
    )
    expected = f"The file's content ({codec} video) does not match its audio extension."
    assert media.latest_run.error_message == REFUSED_PREFIX + expected
    assert media.media_type == MediaType.AUDIO
    assert list(upload_temp_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["song.mp3", "song.m4a", "song.flac"])
def test_audio_with_album_art_is_accepted_as_audio(name, owner_client, tmp_path, fake_inference):
    """Cover art is a video stream to ffprobe, but an attached picture, not a video track."""
    song = make_audio(tmp_path / name, cover=True)
    streams = ffmpeg.probe(str(song))["streams"]
    assert [s["disposition"]["attached_pic"] for s in streams if s["codec_type"] == "video"] == [1]

    response = _upload(owner_client, song)

    assert response.status_code == 202, response.content
    media = upload_dispatched(response.json()["data"]["id"])

    assert media.prepared_at is not None
    assert not media.latest_run.error_message.startswith(REFUSED_PREFIX)
    data = _detail(owner_client, media.pk)
    assert data["mediaType"] == MediaType.AUDIO and data["hasAudio"] is None
    assert set(data["metadata"]) == {"format", "audio"}
    assert media.file.name == f"audio/{media.pk}.{name.rsplit('.', 1)[1]}"
    assert not media.thumbnail


def test_no_file_is_400(owner_client, fake_inference):
    response = owner_client.post(URL, {"description": "forgot the file"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "media"


def test_description_over_500_characters_is_400(owner_client, media_file, fake_inference, settings):
    response = _upload(owner_client, media_file("clip.mp4"), description="x" * 501)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "description"
    assert Media.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


def test_unknown_form_field_is_400(owner_client, media_file, fake_inference):
    response = _upload(owner_client, media_file("clip.mp4"), owner="someone-else")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "owner"
    assert Media.objects.count() == 0


def test_unknown_model_name_is_400_and_nothing_is_kept(
    owner_client, media_file, fake_inference, settings, upload_temp_dir
):
    response = _upload(owner_client, media_file("clip.mp4"), models="NO-SUCH-MODEL")

    assert response.status_code == 400, response.content
    assert "NO-SUCH-MODEL" in response.json()["message"]
    assert Media.objects.count() == 0 and AnalysisRun.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []
    assert list(upload_temp_dir.iterdir()) == []


@pytest.mark.parametrize("limit", [20_000, 120_000])
def test_too_large_is_413_and_leaves_nothing(
    limit, owner_client, media_file, fake_inference, settings, upload_temp_dir
):
    """Both paths: refused from the declared length, and stopped while streaming."""
    settings.MAX_UPLOAD_SIZE = limit
    content = media_file("long.mp4", seconds=8, size="320x240").read_bytes()
    assert len(content) > limit

    response = _upload(owner_client, name="long.mp4", content=content)

    assert response.status_code == 413, response.content
    assert "upload limit" in response.json()["message"]
    assert Media.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []
    assert list(upload_temp_dir.iterdir()) == []


def test_upload_needs_authentication(api_client, media_file):
    response = _upload(api_client, media_file("clip.mp4"))

    assert response.status_code == 401
    assert Media.objects.count() == 0


def test_upload_rules_are_served(owner_client, settings):
    response = owner_client.get("/api/v1/media/upload-rules")

    data = response.json()["data"]
    assert data["maxUploadSize"] == settings.MAX_UPLOAD_SIZE
    assert "mp4" in data["formats"]["VIDEO"] and "flac" in data["formats"]["AUDIO"]


def test_uploads_are_throttled_per_user(
    owner_client, media_file, fake_inference, settings, isolated_cache
):
    settings.API_UPLOAD_THROTTLE_RATE = "2/hour"
    clip = media_file("clip.mp4")
    statuses = [_upload(owner_client, clip).status_code for _ in range(3)]

    assert statuses == [202, 202, 429]
    assert Media.objects.count() == 2 and AnalysisRun.objects.count() == 2
    originals = [name for name in stored_files(settings.MEDIA_ROOT) if name.startswith("videos/")]
    assert len(originals) == 2
