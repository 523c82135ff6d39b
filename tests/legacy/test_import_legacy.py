"""`manage.py import_legacy`: the Node version's database, read-only, imported once."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import psycopg
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from psycopg import sql
from psycopg.types.json import Jsonb
from rest_framework.test import APIClient

from accounts.models import Role, User
from legacy.importer import legacy_id_to_uuid, legacy_source_open
from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from monitoring.models import HealthStatus, ServerHealth
from tests.fixtures.media_files import stored_files
from tests.legacy.conftest import table_fingerprints

pytestmark = pytest.mark.django_db

ALICE_PASSWORD = "old-node-secret-1"
BOB_PASSWORD = "another-old-secret-2"
T0 = datetime(2024, 3, 1, 9, 30, 15, 123000)  # naive UTC, as Prisma's TIMESTAMP(3) holds it

ALICE = "5d0e1c9a-8f0b-4c1e-9a55-0c7d1f3e2a01"
BOB = "ckv9x2m3p0000abcdxyz"  # not a UUID: an id from an older cuid() default
VIDEO = "8a1f0b7e-2d3c-4e5f-8a9b-0c1d2e3f4a51"
IMAGE = "cm_photo_01"
AUDIO = "a3c5e7f9-1b2d-4f6a-8c0e-2a4c6e8f0b72"
GONE = "f0e1d2c3-b4a5-4968-8776-655443322110"
CDN_GONE = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
RUN_V1, RUN_V2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
RUN_IMAGE = "33333333-3333-4333-8333-333333333333"
RUN_AUDIO = "44444444-4444-4444-8444-444444444444"
RUN_GONE = "55555555-5555-4555-8555-555555555555"
RUN_CANCELLED = "66666666-6666-4666-8666-666666666666"
VIDEO_PAYLOAD = {
    "prediction": "FAKE",
    "confidence": 0.91,
    "processing_time": 4.2,
    "media_type": "video",
    "frame_predictions": [{"index": 0, "score": 0.9}, {"index": 1, "score": 0.92}],
    "note": None,
}


def _t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _new_id(table: str, legacy_id: str) -> uuid.UUID:
    return legacy_id_to_uuid(table=table, value=legacy_id)[0]


@dataclass
class LegacySource:
    url: str
    media_root: Path
    files: dict[str, Path]


def _insert(connection: psycopg.Connection, table: str, **values) -> None:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    connection.execute(query, list(values.values()))


@pytest.fixture
def legacy_source(legacy_database, media_file, file_server, tmp_path) -> LegacySource:
    """The old database with two users, media of each type (local and Cloudinary files), runs
    with their numbers, analyses with payloads, health rows, and rows that cannot be imported."""
    cdn_url, cdn_folder = file_server
    media_root = tmp_path / "node-uploads"
    (media_root / "videos").mkdir(parents=True)
    video = media_file("clip.mp4")
    video_copy = media_root / "videos" / "1709285415-clip.mp4"
    video_copy.write_bytes(video.read_bytes())
    audio_copy = media_root / "1709285999-tone.wav"
    audio_copy.write_bytes(media_file("tone.wav").read_bytes())
    image_copy = cdn_folder / "photo.png"
    image_copy.write_bytes(media_file("photo.png").read_bytes())

    alice_hash = bcrypt.hashpw(ALICE_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    bob_hash = bcrypt.hashpw(BOB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    # Node's bcryptjs writes the $2a$ variant.
    bob_hash = "$2a$" + bob_hash[4:]
    with psycopg.connect(legacy_database, autocommit=True) as connection:
        # A later version of the Node schema than ours knew one more run status.
        connection.execute("ALTER TYPE \"MediaStatus\" ADD VALUE 'CANCELLED'")
        _insert(connection, "User", id=ALICE, email="Alice@Example.org", firstName="Alice",
                lastName="Anand", password=alice_hash, role="USER", isActive=True,
                createdAt=_t(0), updatedAt=_t(5))  # fmt: skip
        _insert(connection, "User", id=BOB, email="bob@example.org", firstName="Bob",
                lastName="Bose", password=bob_hash, role="ADMIN", isActive=True,
                createdAt=_t(1), updatedAt=_t(1))  # fmt: skip
        _insert(connection, "Media", id=VIDEO, filename="interview clip.mp4",
                url="http://localhost:3000/uploads/videos/1709285415-clip.mp4",
                publicId="videos/1709285415-clip.mp4", mimetype="video/mp4", size=1,
                description="Press conference", status="ANALYZED", mediaType="VIDEO",
                hasAudio=True, metadata=Jsonb({"format": {"duration": 1.0}, "video": {"fps": 15}}),
                userId=ALICE, createdAt=_t(10), updatedAt=_t(20))  # fmt: skip
        _insert(connection, "Media", id=IMAGE, filename="photo.png",
                url=f"{cdn_url}/photo.png", publicId="deepfake/photo", mimetype="image/png",
                size=1, description=None, status="PARTIALLY_ANALYZED", mediaType="IMAGE",
                hasAudio=None, metadata=None, userId=BOB, createdAt=_t(30),
                updatedAt=_t(31))  # fmt: skip
        _insert(connection, "Media", id=AUDIO, filename="tone.wav",
                url="/uploads/1709285999-tone.wav",
                publicId="1709285999-tone.wav", mimetype="audio/wav", size=1, description="",
                status="FAILED", mediaType="AUDIO", hasAudio=None,
                metadata=Jsonb({"audio": {"sample_rate": 44100}}), userId=ALICE,
                createdAt=_t(40), updatedAt=_t(41))  # fmt: skip
        _insert(connection, "Media", id=GONE, filename="gone.mp4", url="/uploads/videos/gone.mp4",
                publicId="videos/gone.mp4", mimetype="video/mp4", size=1, status="ANALYZED",
                mediaType="VIDEO", hasAudio=False, userId=ALICE, createdAt=_t(50),
                updatedAt=_t(50))  # fmt: skip
        _insert(connection, "Media", id=CDN_GONE, filename="old.png",
                url=f"{cdn_url}/deleted/old.png", publicId="deepfake/old", mimetype="image/png",
                size=1, status="ANALYZED", mediaType="IMAGE", userId=BOB, createdAt=_t(60),
                updatedAt=_t(60))  # fmt: skip
        for run_id, media_id, number, status, minutes in [
            (RUN_V1, VIDEO, 1, "ANALYZED", 11),
            (RUN_V2, VIDEO, 2, "ANALYZED", 15),
            (RUN_IMAGE, IMAGE, 1, "PARTIALLY_ANALYZED", 30.5),
            (RUN_AUDIO, AUDIO, 1, "FAILED", 40.5),
            (RUN_GONE, GONE, 1, "ANALYZED", 50.5),
            (RUN_CANCELLED, AUDIO, 2, "CANCELLED", 45),
        ]:
            _insert(connection, "AnalysisRun", id=run_id, mediaId=media_id, runNumber=number,
                    status=status, createdAt=_t(minutes))  # fmt: skip
        connection.execute('UPDATE "Media" SET "latestAnalysisRunId" = %s WHERE id = %s',
                           [RUN_V2, VIDEO])  # fmt: skip
        analyses = [
            ("an-v1-siglip", RUN_V1, "SIGLIP-LSTM-V4", "FAKE", 0.91, "COMPLETED", None, 4.2,
             "video", VIDEO_PAYLOAD, 11.1, 12),
            ("an-v1-color", RUN_V1, "COLOR-CUES-LSTM-V1", "REAL", 0.7, "COMPLETED", None, 3.0,
             "video", {"prediction": "REAL", "confidence": 0.7}, 11.1, 12.5),
            ("an-v2-siglip", RUN_V2, "SIGLIP-LSTM-V4", "FAKE", 0.88, "COMPLETED", None, 4.0,
             "video", {"prediction": "FAKE", "confidence": 0.88}, 15.1, 16),
            ("an-img-effnet", RUN_IMAGE, "EFFICIENTNET-B7-V1", "REAL", 0.8, "COMPLETED", None,
             0.4, "image", {"prediction": "REAL", "heatmap": [[0.1, 0.2], [0.3, 0.4]]}, 30.6, 31),
            # The old system's retry duplicate: an earlier failed row for the same model and run.
            ("an-img-effnet-retry", RUN_IMAGE, "EFFICIENTNET-B7-V1", None, None, "FAILED",
             "timeout", None, None, None, 30.6, 30.8),
            ("an-img-dire", RUN_IMAGE, "DISTIL-DIRE-V1", None, None, "FAILED",
             "CUDA out of memory", None, None, None, 30.6, 30.9),
            ("an-audio-wave", RUN_AUDIO, "SCATTERING-WAVE-V1", None, None, "FAILED",
             "model not loaded", None, "audio", None, 40.6, 40.7),
            ("an-gone", RUN_GONE, "SIGLIP-LSTM-V4", "REAL", 0.6, "COMPLETED", None, 1.0,
             "video", {"prediction": "REAL"}, 50.6, 51),
            ("an-cancelled", RUN_CANCELLED, "SCATTERING-WAVE-V1", None, None, "PENDING", None,
             None, None, None, 45.1, 45.1),
        ]  # fmt: skip
        for (aid, run_id, model, prediction, confidence, status, error, seconds, kind, payload,
             created, updated) in analyses:  # fmt: skip
            _insert(connection, "DeepfakeAnalysis", id=aid, analysisRunId=run_id,
                    modelName=model, prediction=prediction, confidence=confidence,
                    status=status, errorMessage=error, processingTime=seconds, mediaType=kind,
                    resultPayload=Jsonb(payload) if payload is not None else None,
                    createdAt=_t(created), updatedAt=_t(updated))  # fmt: skip
        for hid, status, millis, minutes in [
            ("h1", "HEALTHY", 42, 0), ("h2", "DEGRADED", 900, 1), ("h3", "UNHEALTHY", None, 2)
        ]:  # fmt: skip
            _insert(connection, "ServerHealth", id=hid, status=status, responseTimeMs=millis,
                    statsPayload=Jsonb({"status": status.lower(), "models": ["SIGLIP-LSTM-V4"]}),
                    checkedAt=_t(minutes))  # fmt: skip
    return LegacySource(
        url=legacy_database,
        media_root=media_root,
        files={"video": video_copy, "audio": audio_copy, "image": image_copy},
    )


def _import(source: LegacySource) -> str:
    out = io.StringIO()
    call_command(
        "import_legacy", "--database-url", source.url, "--media-root", str(source.media_root),
        stdout=out,
    )  # fmt: skip
    return out.getvalue()


def _counts_line(output: str, table: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{table} ")).split(
        maxsplit=1
    )[1]


def test_import_keeps_ids_timestamps_run_numbers_and_payloads(legacy_source, _media_root):
    output = _import(legacy_source)

    assert _counts_line(output, "User") == "2 imported, 0 already present, 0 skipped"
    assert _counts_line(output, "Media") == "3 imported, 0 already present, 2 skipped"
    assert _counts_line(output, "AnalysisRun") == "4 imported, 0 already present, 2 skipped"
    assert _counts_line(output, "DeepfakeAnalysis") == "6 imported, 0 already present, 3 skipped"
    assert _counts_line(output, "ServerHealth") == "3 imported, 0 already present, 0 skipped"

    alice = User.objects.get(pk=ALICE)
    bob = User.objects.get(pk=_new_id("User", BOB))
    assert bob.pk == uuid.uuid5(uuid.UUID("6f1c2a52-3a4e-5b0e-9d51-8c3f0e7b2a10"), f"User:{BOB}")
    assert (alice.email, alice.first_name, alice.last_name) == (
        "alice@example.org",
        "Alice",
        "Anand",
    )
    assert (alice.created_at, alice.updated_at) == (_aware(_t(0)), _aware(_t(5)))
    assert bob.role == Role.ADMIN and bob.is_staff
    assert bob.password.startswith("bcrypt$$2a$")
    assert f"User {BOB} -> {bob.pk}" not in output  # listed only with -v 2
    assert "old id(s) were not UUIDs" in output

    video = Media.objects.get(pk=VIDEO)
    assert video.owner == alice
    assert video.original_filename == "interview clip.mp4"
    assert video.file.name == f"videos/{VIDEO}.mp4"
    content = legacy_source.files["video"].read_bytes()
    assert default_storage.open(video.file.name).read() == content
    assert (video.size, video.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert (video.status, video.media_type, video.has_audio) == (
        RunStatus.ANALYZED, MediaType.VIDEO, True,
    )  # fmt: skip
    assert video.metadata == {"format": {"duration": 1.0}, "video": {"fps": 15}}
    # Never probed here: its next run probes it first, as it would an upload.
    assert video.prepared_at is None
    assert video.description == "Press conference"
    assert (video.created_at, video.updated_at) == (_aware(_t(10)), _aware(_t(20)))
    assert video.latest_run_id == uuid.UUID(RUN_V2)

    image = Media.objects.get(pk=_new_id("Media", IMAGE))
    image_bytes = legacy_source.files["image"].read_bytes()
    assert image.owner == bob
    assert image.file.name == f"images/{image.pk}.png"
    assert default_storage.open(image.file.name).read() == image_bytes
    assert image.sha256 == hashlib.sha256(image_bytes).hexdigest()
    assert image.latest_run_id == uuid.UUID(RUN_IMAGE)
    audio = Media.objects.get(pk=AUDIO)
    assert audio.file.name == f"audio/{AUDIO}.wav"
    assert audio.status == RunStatus.FAILED
    assert stored_files(_media_root) == sorted([video.file.name, image.file.name, audio.file.name])

    runs = {str(run.pk): run for run in AnalysisRun.objects.all()}
    assert set(runs) == {RUN_V1, RUN_V2, RUN_IMAGE, RUN_AUDIO}
    assert [
        r.run_number for r in AnalysisRun.objects.filter(media=video).order_by("created_at")
    ] == [1, 2]
    assert runs[RUN_V2].created_at == _aware(_t(15))
    assert runs[RUN_IMAGE].status == RunStatus.PARTIALLY_ANALYZED
    # Finished runs get this project's verdict over their analyses.
    assert runs[RUN_V1].verdict is not None and runs[RUN_V1].verdict_details["contributions"]

    siglip = DeepfakeAnalysis.objects.get(pk=_new_id("DeepfakeAnalysis", "an-v1-siglip"))
    assert siglip.run_id == uuid.UUID(RUN_V1)
    assert siglip.result_payload == VIDEO_PAYLOAD
    assert (siglip.prediction, siglip.confidence, siglip.processing_time) == (
        Prediction.FAKE, 0.91, 4.2,
    )  # fmt: skip
    assert (siglip.created_at, siglip.updated_at) == (_aware(_t(11.1)), _aware(_t(12)))
    assert siglip.media_type == MediaType.VIDEO
    effnet = DeepfakeAnalysis.objects.get(run_id=RUN_IMAGE, model_name="EFFICIENTNET-B7-V1")
    assert effnet.pk == _new_id("DeepfakeAnalysis", "an-img-effnet")
    assert effnet.status == AnalysisStatus.COMPLETED
    dire = DeepfakeAnalysis.objects.get(run_id=RUN_IMAGE, model_name="DISTIL-DIRE-V1")
    assert (dire.status, dire.error_message) == (AnalysisStatus.FAILED, "CUDA out of memory")

    health = list(ServerHealth.objects.order_by("checked_at"))
    assert [(h.status, h.response_time_ms, h.checked_at) for h in health] == [
        (HealthStatus.HEALTHY, 42, _aware(_t(0))),
        (HealthStatus.DEGRADED, 900, _aware(_t(1))),
        (HealthStatus.UNHEALTHY, None, _aware(_t(2))),
    ]
    assert health[1].stats_payload == {"status": "degraded", "models": ["SIGLIP-LSTM-V4"]}


def test_unimportable_rows_are_skipped_with_their_reasons(legacy_source):
    output = _import(legacy_source)
    skipped = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in output.split("Skipped rows:\n", 1)[1].splitlines()
        if line.startswith("  ")
    }

    assert skipped[f"Media {GONE}"].startswith("file not found")
    assert "videos/gone.mp4" in skipped[f"Media {GONE}"]
    assert skipped[f"AnalysisRun {RUN_CANCELLED}"] == "unknown status 'CANCELLED'"
    assert skipped[f"AnalysisRun {RUN_GONE}"] == f"its media {GONE} was not imported"
    assert skipped["DeepfakeAnalysis an-gone"] == f"its run {RUN_GONE} was not imported"
    assert skipped["DeepfakeAnalysis an-cancelled"] == f"its run {RUN_CANCELLED} was not imported"
    assert skipped["DeepfakeAnalysis an-img-effnet-retry"].startswith(
        "a second row for model 'EFFICIENTNET-B7-V1' in its run"
    )
    assert skipped[f"Media {CDN_GONE}"].startswith("file not found: http://127.0.0.1:")
    assert skipped[f"Media {CDN_GONE}"].endswith("/deleted/old.png answered HTTP 404")
    assert len(skipped) == 7
    assert not Media.objects.filter(pk=GONE).exists()
    assert not AnalysisRun.objects.filter(pk__in=[RUN_GONE, RUN_CANCELLED]).exists()


def test_a_second_import_adds_nothing(legacy_source, _media_root):
    _import(legacy_source)
    before = {
        model.__name__: model.objects.count()
        for model in (User, Media, AnalysisRun, DeepfakeAnalysis, ServerHealth)
    }
    files_before = stored_files(_media_root)

    output = _import(legacy_source)

    assert _counts_line(output, "User") == "0 imported, 2 already present, 0 skipped"
    assert _counts_line(output, "Media") == "0 imported, 3 already present, 2 skipped"
    assert _counts_line(output, "AnalysisRun") == "0 imported, 4 already present, 2 skipped"
    assert _counts_line(output, "DeepfakeAnalysis") == "0 imported, 6 already present, 3 skipped"
    assert _counts_line(output, "ServerHealth") == "0 imported, 3 already present, 0 skipped"
    after = {
        model.__name__: model.objects.count()
        for model in (User, Media, AnalysisRun, DeepfakeAnalysis, ServerHealth)
    }
    assert after == before
    assert stored_files(_media_root) == files_before


def test_imported_bcrypt_password_logs_in_and_is_rehashed(legacy_source, isolated_cache):
    _import(legacy_source)
    client = APIClient()

    for email, password in [
        ("alice@example.org", ALICE_PASSWORD),
        ("bob@example.org", BOB_PASSWORD),
    ]:
        response = client.post("/api/v1/auth/login", {"email": email, "password": password})
        assert response.status_code == 200, response.content
        assert response.json()["data"]["user"]["email"] == email
        stored = User.objects.get(email=email).password
        assert not stored.startswith("bcrypt$")
        assert stored.startswith("pbkdf2_sha256$")

    wrong = client.post("/api/v1/auth/login", {"email": "alice@example.org", "password": "nope"})
    assert wrong.status_code == 401
    again = client.post(
        "/api/v1/auth/login", {"email": "alice@example.org", "password": ALICE_PASSWORD}
    )
    assert again.status_code == 200


def test_the_old_database_is_only_read(legacy_source):
    before = table_fingerprints(legacy_source.url)

    _import(legacy_source)
    _import(legacy_source)

    assert table_fingerprints(legacy_source.url) == before
    with legacy_source_open(database_url=legacy_source.url) as source:
        assert source.execute("SHOW transaction_read_only").fetchone() == ("on",)
        assert source.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            source.execute('DELETE FROM "ServerHealth"')
    assert table_fingerprints(legacy_source.url) == before


def test_users_without_bcrypt_hash_or_with_a_taken_email(legacy_database, user):
    with psycopg.connect(legacy_database, autocommit=True) as connection:
        _insert(connection, "User", id="u-sha", email="carol@example.org", firstName="Carol",
                lastName="", password="sha1$abc$def", updatedAt=_t(0))  # fmt: skip
        _insert(connection, "User", id="u-taken", email=user.email.upper(), firstName="Dup",
                lastName="", password="$2b$04$" + "a" * 53, updatedAt=_t(0))  # fmt: skip
    out = io.StringIO()

    call_command("import_legacy", "--database-url", legacy_database, stdout=out)

    carol = User.objects.get(pk=_new_id("User", "u-sha"))
    assert not carol.has_usable_password()
    assert "u-sha (carol@example.org): the old password is not a bcrypt hash" in out.getvalue()
    assert (
        f"User u-taken: the email '{user.email}' already belongs to another account here"
        in out.getvalue()
    )
    assert not User.objects.filter(pk=_new_id("User", "u-taken")).exists()


def test_a_source_that_is_not_the_node_schema_is_refused(legacy_database):
    with psycopg.connect(legacy_database, autocommit=True) as connection:
        connection.execute('DROP TABLE "ServerHealth"')

    with pytest.raises(Exception, match='lacks the table\\(s\\) "ServerHealth"'):
        call_command("import_legacy", "--database-url", legacy_database, stdout=io.StringIO())
    assert not User.objects.exists()
