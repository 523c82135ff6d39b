"""The inference-server contract over HTTP (ASGI, in process): endpoints, shapes and errors."""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import psutil
import pytest
from fastapi.testclient import TestClient

import mlserver.app
from mlserver.app import create_app
from mlserver.config import Settings
from mlserver.detectors import AnalysisContext, Detector, DetectorResult
from mlserver.media import MediaFile, MediaType
from mlserver.system_info import BYTES_PER_GIB, cpu_model_name
from mlserver.uploads import UPLOAD_PREFIX

PROTECTED_GETS = ["/stats", "/models", "/device", "/system", "/config"]
ALL_MODELS = {
    # name: (isAudio, isVideo, isImage, isMultiModal)
    "PROVENANCE-METADATA-V1": (True, True, True, False),
    "ELA-JPEG-V1": (False, False, True, False),
    "FREQUENCY-SPECTRUM-V1": (False, True, True, False),
    "TEMPORAL-CONSISTENCY-V1": (False, True, False, False),
    "AUDIO-SPECTRUM-V1": (True, False, False, True),
}
# How long a test waits for the server before calling a request hung.
RESPONSE_TIMEOUT_SECONDS = 10.0


def upload(client: TestClient, auth: dict[str, str], path: Path, **fields: str):
    with path.open("rb") as handle:
        return client.post(
            "/analyze", headers=auth, files={"media": (path.name, handle)}, data=fields
        )


def cpu_stats_example(stats_example: dict) -> dict:
    """The contract's /stats example adjusted by the contract's own rules for this server:
    on CPU every device field but type and name is null; there are no weight files and no
    PyTorch, so model_path and torch_version are null."""
    example = copy.deepcopy(stats_example)
    for key in example["device_info"]:
        if key not in ("type", "name"):
            example["device_info"][key] = None
    example["models_info"][0]["model_path"] = None
    example["configuration"]["torch_version"] = None
    return example


def test_public_endpoints_answer_without_a_key(ml_client: TestClient, contract) -> None:
    root = ml_client.get("/")
    assert root.status_code == 200
    contract.check(root.json(), contract.root)
    assert [m["name"] for m in root.json()["active_models"]] == list(ALL_MODELS)
    assert root.json()["default_model"] == "PROVENANCE-METADATA-V1"
    assert ml_client.get("/ping").json() == {"status": "pong"}


@pytest.mark.parametrize("path", PROTECTED_GETS)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key"}], ids=["missing", "wrong"])
def test_protected_endpoints_answer_401(ml_client: TestClient, path: str, headers: dict) -> None:
    response = ml_client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or missing API Key"}


@pytest.mark.parametrize(
    "key",
    ["wrong-key", "test-api-ke", "test-api-key-2", "TEST-API-KEY", ""],
    ids=["other", "prefix", "extended", "case", "empty"],
)
def test_analyze_with_a_wrong_key_is_401(ml_client: TestClient, pink_png: Path, key: str) -> None:
    response = upload(ml_client, {"X-API-Key": key}, pink_png, model="PROVENANCE-METADATA-V1")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or missing API Key"}


def test_analyze_checks_the_key_before_reading_the_upload(ml_client: TestClient, auth) -> None:
    garbage = {
        "content": b"--not-a-multipart-body",
        "headers": {"Content-Type": "multipart/form-data; boundary=missing"},
    }
    unauthenticated = ml_client.post("/analyze", **garbage)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {"detail": "Invalid or missing API Key"}
    # With the key, the same body is parsed and rejected as a request error instead.
    authenticated = ml_client.post(
        "/analyze", content=garbage["content"], headers={**garbage["headers"], **auth}
    )
    assert authenticated.status_code in (400, 422)


def test_stats_match_the_contract_and_the_machine(ml_client: TestClient, auth, contract) -> None:
    stats = ml_client.get("/stats", headers=auth).json()
    contract.check(stats, cpu_stats_example(contract.stats))
    assert set(stats) == set(contract.stats)
    assert set(stats["device_info"]) == set(contract.stats["device_info"])
    assert set(stats["system_info"]) == set(contract.stats["system_info"])
    assert set(stats["configuration"]) == set(contract.stats["configuration"])

    device = stats["device_info"]
    assert device["type"] == "cpu"
    assert device["name"] == cpu_model_name() != ""
    assert all(value is None for key, value in device.items() if key not in ("type", "name"))

    system = stats["system_info"]
    assert system["cpu_count"] == psutil.cpu_count(logical=True)
    assert system["total_ram"] == pytest.approx(psutil.virtual_memory().total / BYTES_PER_GIB, 0.01)
    assert 0 < system["used_ram"] < system["total_ram"]

    flags = {
        m["name"]: (m["isAudio"], m["isVideo"], m["isImage"], m["isMultiModal"])
        for m in stats["models_info"]
    }
    assert flags == ALL_MODELS
    for model in stats["models_info"]:
        # `accepted_formats` is this server's extension of the contract.
        assert set(model) == set(contract.stats["models_info"][0]) | {"accepted_formats"}
        assert model["loaded"] is True and model["device"] == "cpu"
        assert "heuristic baseline, not a trained deepfake model" in model["description"].lower()
    assert stats["active_models_count"] == stats["total_models_count"] == len(ALL_MODELS)
    assert stats["configuration"]["device"] == "cpu"
    assert stats["configuration"]["cuda_available"] is False
    assert stats["configuration"]["active_models"] == list(ALL_MODELS)


def test_device_system_and_config_are_the_parts_of_stats(ml_client: TestClient, auth) -> None:
    stats = ml_client.get("/stats", headers=auth).json()
    assert ml_client.get("/device", headers=auth).json() == stats["device_info"]
    assert ml_client.get("/config", headers=auth).json() == stats["configuration"]
    system = ml_client.get("/system", headers=auth).json()
    assert set(system) == set(stats["system_info"])
    assert system["cpu_count"] == stats["system_info"]["cpu_count"]


def test_models_lists_every_active_model(ml_client: TestClient, auth, contract) -> None:
    body = ml_client.get("/models", headers=auth).json()
    contract.check(body["summary"], contract.models_summary)
    assert body["summary"] == {
        "total_configured": len(ALL_MODELS),
        "currently_loaded": len(ALL_MODELS),
        "active_models": list(ALL_MODELS),
        "loaded_models": list(ALL_MODELS),
    }
    assert [m["name"] for m in body["models"]] == list(ALL_MODELS)


def test_active_models_follow_the_settings(auth) -> None:
    settings = Settings(api_key=auth["X-API-Key"], active_models=("AUDIO-SPECTRUM-V1",))
    with TestClient(create_app(settings)) as client:
        assert client.get("/config", headers=auth).json()["active_models"] == ["AUDIO-SPECTRUM-V1"]
        assert client.get("/").json()["default_model"] == "AUDIO-SPECTRUM-V1"


def test_unknown_active_model_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match="NOT-A-MODEL"):
        create_app(Settings(active_models=("NOT-A-MODEL",)))


def test_correlation_id_is_echoed_or_generated(ml_client: TestClient, auth, tmp_path: Path) -> None:
    sent = "corr-1234"
    for path in ("/ping", "/stats"):  # public, and refused for lack of a key
        response = ml_client.get(path, headers={"X-Correlation-ID": sent})
        assert response.headers["X-Correlation-ID"] == sent
    generated = ml_client.get("/ping").headers["X-Correlation-ID"]
    assert uuid.UUID(generated).version == 4

    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"this is not a picture")
    response = upload(
        ml_client, {**auth, "X-Correlation-ID": sent}, corrupt, model="FREQUENCY-SPECTRUM-V1"
    )
    assert response.headers["X-Correlation-ID"] == sent
    assert response.json()["detail"]["correlation_id"] == sent


def test_image_analysis_answer_matches_the_contract(
    ml_client: TestClient, auth, contract, pink_jpeg: Path
) -> None:
    response = upload(ml_client, auth, pink_jpeg, model="ELA-JPEG-V1")
    assert response.status_code == 200, response.text
    body = response.json()
    contract.check(body, contract.analyze)
    contract.check(body["data"], contract.image)
    assert body["success"] is True and body["model_used"] == "ELA-JPEG-V1"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is None
    data = body["data"]
    assert data["media_type"] == "image"
    assert data["prediction"] in ("REAL", "FAKE")
    assert 0.5 <= data["confidence"] <= 1.0
    assert data["processing_time"] > 0
    assert data["dimensions"] == {"width": 256, "height": 256}
    heatmap = data["heatmap_scores"]
    assert len(heatmap) == 32 and {len(row) for row in heatmap} == {32}
    assert all(0.0 <= value <= 1.0 for row in heatmap for value in row)
    assert data["visualization_path"] is None


def test_video_analysis_answer_matches_the_contract(
    ml_client: TestClient, auth, contract, smooth_video: Path
) -> None:
    response = upload(ml_client, auth, smooth_video, model="TEMPORAL-CONSISTENCY-V1")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    contract.check(data, contract.video)
    assert data["media_type"] == "video"
    assert data["frame_count"] == 60
    assert data["frames_analyzed"] == 60
    predictions = data["frame_predictions"]
    assert 0 < len(predictions) <= 16
    assert [p["index"] for p in predictions] == sorted(p["index"] for p in predictions)
    assert all(p["prediction"] == ("FAKE" if p["score"] > 0.5 else "REAL") for p in predictions)
    assert data["metrics"]["max_score"] == max(p["score"] for p in predictions)


def test_audio_analysis_answer_matches_the_contract(
    ml_client: TestClient, auth, contract, voice_wav: Path
) -> None:
    response = upload(ml_client, auth, voice_wav, model="AUDIO-SPECTRUM-V1")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    contract.check(data, contract.audio)
    assert data["media_type"] == "audio"
    assert data["properties"] == {"duration_seconds": 3.0, "sample_rate": 44100, "channels": 1}
    spectrogram = data["visualization"]["spectrogram_data"]
    assert len(spectrogram) == 64
    assert 0 < len(spectrogram[0]) <= 60
    assert data["visualization"]["spectrogram_url"] is None


def test_spectrum_video_answer_matches_the_contract(
    ml_client: TestClient, auth, contract, smooth_video: Path
) -> None:
    response = upload(ml_client, auth, smooth_video, model="FREQUENCY-SPECTRUM-V1")
    assert response.status_code == 200, response.text
    contract.check(response.json(), contract.analyze)
    data = response.json()["data"]
    contract.check(data, contract.video)
    assert data["media_type"] == "video"
    assert data["frame_count"] == 60
    assert 0 < data["frames_analyzed"] == len(data["frame_predictions"]) <= 16
    assert data["visualization_path"] is None


# The provenance detector reads metadata only. The contract leaves video ``metrics`` free-form
# per model (so only "an object" is required) and lets values be null, so its audio answer
# carries the signal sections as null.
METADATA_ONLY_AUDIO_SECTIONS = ("pitch", "energy", "spectral", "visualization")


def test_provenance_video_answer_matches_the_contract(
    ml_client: TestClient, auth, contract, media_tools, smooth_video: Path, tmp_path: Path
) -> None:
    tagged = tmp_path / "tagged.mp4"
    media_tools.run_ffmpeg(
        "-i", str(smooth_video), "-c", "copy",
        "-metadata", "comment=Generated with Runway Gen-3", str(tagged),
    )  # fmt: skip
    response = upload(ml_client, auth, tagged, model="PROVENANCE-METADATA-V1")
    assert response.status_code == 200, response.text
    contract.check(response.json(), contract.analyze)
    data = response.json()["data"]
    contract.check(data, {**contract.video, "metrics": {}})
    assert data["media_type"] == "video"
    assert data["frame_count"] == 60
    assert data["frames_analyzed"] == 0 and data["frame_predictions"] == []
    assert isinstance(data["metrics"]["evidence"], list)
    assert data["visualization_path"] is None


def test_provenance_audio_answer_matches_the_contract(
    ml_client: TestClient, auth, contract, media_tools, voice_wav: Path, tmp_path: Path
) -> None:
    tagged = tmp_path / "tagged.wav"
    media_tools.run_ffmpeg(
        "-i", str(voice_wav), "-metadata", "encoded_by=ElevenLabs", "-c", "copy", str(tagged)
    )
    response = upload(ml_client, auth, tagged, model="PROVENANCE-METADATA-V1")
    assert response.status_code == 200, response.text
    contract.check(response.json(), contract.analyze)
    data = response.json()["data"]
    contract.check(data, {**contract.audio, **dict.fromkeys(METADATA_ONLY_AUDIO_SECTIONS)})
    assert data["media_type"] == "audio"
    assert data["properties"] == {"duration_seconds": 3.0, "sample_rate": 44100, "channels": 1}
    assert all(data[section] is None for section in METADATA_ONLY_AUDIO_SECTIONS)
    assert data["voice_quality"] is None


def test_multimodal_audio_model_analyses_the_audio_track_of_a_video(
    ml_client: TestClient, auth, smooth_video: Path, silent_video: Path
) -> None:
    response = upload(ml_client, auth, smooth_video, model="AUDIO-SPECTRUM-V1")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["metrics"]["audio_track_of_video"] is True

    silent = upload(ml_client, auth, silent_video, model="AUDIO-SPECTRUM-V1")
    assert silent.status_code == 422
    assert silent.json()["detail"]["error"] == "Media Processing Error"
    assert "no audio track" in silent.json()["detail"]["message"]


def test_inference_count_counts_completed_analyses(
    ml_client: TestClient, auth, pink_png: Path
) -> None:
    def count() -> int:
        models = ml_client.get("/stats", headers=auth).json()["models_info"]
        return next(m for m in models if m["name"] == "PROVENANCE-METADATA-V1")["inference_count"]

    before = count()
    for _ in range(2):
        assert upload(ml_client, auth, pink_png, model="PROVENANCE-METADATA-V1").status_code == 200
    assert count() == before + 2


def test_omitted_model_uses_the_default_or_the_first_compatible_model(
    ml_client: TestClient, auth, pink_png: Path, voice_wav: Path
) -> None:
    assert upload(ml_client, auth, pink_png).json()["model_used"] == "PROVENANCE-METADATA-V1"
    settings = Settings(
        api_key=auth["X-API-Key"], active_models=("ELA-JPEG-V1", "AUDIO-SPECTRUM-V1")
    )
    with TestClient(create_app(settings)) as narrow:
        assert upload(narrow, auth, voice_wav).json()["model_used"] == "AUDIO-SPECTRUM-V1"


def test_empty_upload_is_400(ml_client: TestClient, auth) -> None:
    response = ml_client.post("/analyze", headers=auth, files={"media": ("empty.png", b"")})
    assert response.status_code == 400
    assert response.json() == {"detail": "Uploaded media file is empty."}


@pytest.mark.parametrize("filename", ["clip.xyz", "no_extension"])
def test_unknown_or_missing_extension_is_415(ml_client: TestClient, auth, filename: str) -> None:
    response = ml_client.post("/analyze", headers=auth, files={"media": (filename, b"data")})
    assert response.status_code == 415
    assert response.json() == {"detail": f"Could not determine media type for file '{filename}'."}


def test_unknown_model_is_422(ml_client: TestClient, auth, pink_png: Path) -> None:
    response = upload(ml_client, auth, pink_png, model="SIGLIP-LSTM-V4")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Requested model 'SIGLIP-LSTM-V4' is not active or available."
    }


def test_model_that_does_not_take_the_media_type_is_422(
    ml_client: TestClient, auth, voice_wav: Path
) -> None:
    response = upload(ml_client, auth, voice_wav, model="ELA-JPEG-V1")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Model 'ELA-JPEG-V1' does not support media of type 'AUDIO'."
    }


def test_no_active_model_for_the_media_type_is_422(auth, voice_wav: Path) -> None:
    settings = Settings(api_key=auth["X-API-Key"], active_models=("ELA-JPEG-V1",))
    with TestClient(create_app(settings)) as client:
        response = upload(client, auth, voice_wav)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "No active models found that support media of type 'AUDIO'."
    }


# Signatures that make a file claim a container, so the damage after them is a decoder's
# business (422); images are checked by Pillow, which needs no such prefix.
MP4_SIGNATURE = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41"
WAV_SIGNATURE = b"RIFF\x24\x08\x00\x00WAVE"
GARBAGE = b"\x00\x01garbage that no decoder accepts" * 64


@pytest.mark.parametrize(
    ("filename", "model", "signature"),
    [
        ("broken.jpg", "ELA-JPEG-V1", b""),
        ("broken.png", "FREQUENCY-SPECTRUM-V1", b""),
        ("broken.png", "PROVENANCE-METADATA-V1", b""),
        ("broken.mp4", "TEMPORAL-CONSISTENCY-V1", MP4_SIGNATURE),
        ("broken.mp4", "FREQUENCY-SPECTRUM-V1", MP4_SIGNATURE),
        ("broken.mp4", "PROVENANCE-METADATA-V1", MP4_SIGNATURE),
        ("broken.wav", "AUDIO-SPECTRUM-V1", WAV_SIGNATURE),
    ],
)
def test_corrupt_media_is_a_422_media_processing_error(
    ml_client: TestClient, auth, tmp_path: Path, filename: str, model: str, signature: bytes
) -> None:
    corrupt = tmp_path / filename
    corrupt.write_bytes(signature + GARBAGE)
    response = upload(ml_client, {**auth, "X-Correlation-ID": "corrupt-1"}, corrupt, model=model)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["error"] == "Media Processing Error"
    assert detail["message"].startswith("Media could not be processed. Reason: ")
    assert detail["correlation_id"] == "corrupt-1"
    assert "Traceback" not in response.text
    assert str(tmp_path) not in response.text


@pytest.mark.parametrize(
    ("filename", "model"),
    [
        ("unknown.mp4", "TEMPORAL-CONSISTENCY-V1"),
        ("unknown.mp4", "PROVENANCE-METADATA-V1"),
        ("unknown.wav", "AUDIO-SPECTRUM-V1"),
    ],
)
def test_content_of_no_accepted_container_is_a_415(
    ml_client: TestClient, auth, tmp_path: Path, filename: str, model: str
) -> None:
    unknown = tmp_path / filename
    unknown.write_bytes(GARBAGE)
    response = upload(ml_client, {**auth, "X-Correlation-ID": "unknown-1"}, unknown, model=model)
    assert response.status_code == 415, response.text
    assert response.json()["detail"] == {
        "error": "Unsupported Media Type",
        "message": "Media could not be processed. Reason: the file's content is not an audio, "
        "video or image format this server reads",
        "correlation_id": "unknown-1",
    }


def test_ela_refuses_a_png_with_a_media_processing_error(
    ml_client: TestClient, auth, pink_png: Path, tmp_path: Path
) -> None:
    disguised = tmp_path / "disguised.jpg"
    disguised.write_bytes(pink_png.read_bytes())
    response = upload(ml_client, auth, disguised, model="ELA-JPEG-V1")
    assert response.status_code == 422
    assert "needs a JPEG image" in response.json()["detail"]["message"]


# --- Extensions: accepted formats and abstention ------------------------------------------


def test_models_declare_the_formats_they_read(ml_client: TestClient, auth) -> None:
    listed = {m["name"]: m for m in ml_client.get("/models", headers=auth).json()["models"]}
    stats = {m["name"]: m for m in ml_client.get("/stats", headers=auth).json()["models_info"]}
    assert stats["ELA-JPEG-V1"]["accepted_formats"] == ["jpeg", "jpg"]
    assert listed["ELA-JPEG-V1"]["accepted_formats"] == ["jpeg", "jpg"]
    # The others read every format of their media types that the server reads.
    assert {"jpg", "png", "webp", "gif"} <= set(stats["FREQUENCY-SPECTRUM-V1"]["accepted_formats"])
    assert {"mp4", "mov", "webm"} <= set(stats["TEMPORAL-CONSISTENCY-V1"]["accepted_formats"])
    assert "png" not in stats["TEMPORAL-CONSISTENCY-V1"]["accepted_formats"]
    # Multimodal: audio files and the audio track of videos.
    assert {"wav", "mp3", "mp4"} <= set(stats["AUDIO-SPECTRUM-V1"]["accepted_formats"])
    assert {"wav", "mp4", "png"} <= set(stats["PROVENANCE-METADATA-V1"]["accepted_formats"])
    for model in stats.values():
        formats = model["accepted_formats"]
        assert formats == sorted(formats) and all(f == f.lower() for f in formats)


def test_a_model_is_refused_a_format_it_does_not_declare(
    ml_client: TestClient, auth, pink_png: Path
) -> None:
    response = upload(ml_client, auth, pink_png, model="ELA-JPEG-V1")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Model 'ELA-JPEG-V1' does not read '.png' files; it reads jpeg, jpg."
    }


def test_a_png_without_a_chosen_model_never_gets_ela(auth, pink_png: Path) -> None:
    settings = Settings(
        api_key=auth["X-API-Key"], active_models=("ELA-JPEG-V1", "FREQUENCY-SPECTRUM-V1")
    )
    with TestClient(create_app(settings)) as client:
        response = upload(client, auth, pink_png)
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == "FREQUENCY-SPECTRUM-V1"


ABSTENTION_EXAMPLE = {
    "abstained": True,
    "reason": "x",
    "prediction": None,
    "confidence": None,
    "processing_time": 0.1,
    "note": None,
    "media_type": "image",
}


@pytest.mark.parametrize("fixture", ["pink_png", "pink_jpeg", "voice_wav", "smooth_video"])
def test_provenance_without_any_declaration_abstains(
    ml_client: TestClient, auth, contract, request, fixture: str
) -> None:
    path = request.getfixturevalue(fixture)
    response = upload(ml_client, auth, path, model="PROVENANCE-METADATA-V1")
    assert response.status_code == 200, response.text
    body = response.json()
    contract.check(body, contract.analyze)
    data = body["data"]
    contract.check(data, ABSTENTION_EXAMPLE)
    assert data["abstained"] is True
    assert data["prediction"] is None and data["confidence"] is None
    assert "metadata is usually stripped on upload, so its absence says nothing" in data["reason"]
    assert data["processing_time"] > 0
    assert data["metrics"]["evidence"] == []


def test_an_abstention_counts_as_an_inference_and_is_announced(
    ml_client: TestClient, auth, pink_png: Path
) -> None:
    def count() -> int:
        models = ml_client.get("/stats", headers=auth).json()["models_info"]
        return next(m for m in models if m["name"] == "PROVENANCE-METADATA-V1")["inference_count"]

    before = count()
    response = upload(ml_client, auth, pink_png, model="PROVENANCE-METADATA-V1")
    assert response.json()["data"]["abstained"] is True
    assert count() == before + 1


def test_missing_media_field_is_fastapis_422(ml_client: TestClient, auth) -> None:
    response = ml_client.post("/analyze", headers=auth, data={"model": "ELA-JPEG-V1"})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["type"] == "missing" and e["loc"] == ["body", "media"] for e in errors)


class CrashingDetector(Detector):
    name = "CRASHING-V1"
    description = "Fails on purpose."
    is_image = True

    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        raise ZeroDivisionError("division by zero in a detector")


def test_detector_crash_is_a_500_inference_error_without_a_traceback(auth, pink_png: Path) -> None:
    app = create_app(Settings(api_key=auth["X-API-Key"]), detectors=[CrashingDetector()])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = upload(client, {**auth, "X-Correlation-ID": "crash-1"}, pink_png)
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert detail["error"] == "Inference Error"
    assert detail["primary_error"] == "ZeroDivisionError: division by zero in a detector"
    assert detail["fallback_error"] is None
    assert detail["correlation_id"] == "crash-1"
    assert "Traceback" not in response.text


def test_unhandled_error_uses_the_global_500_shape(
    ml_client: TestClient, auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: float) -> dict:
        raise RuntimeError("psutil exploded")

    monkeypatch.setattr(mlserver.app, "system_info", broken)
    with TestClient(ml_client.app, raise_server_exceptions=False) as failing:
        response = failing.get("/system", headers={**auth, "X-Correlation-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "Internal Server Error",
        "message": "An unexpected error occurred.",
        "details": {"correlation_id": "boom-1"},
    }


class RecordingDetector(Detector):
    """Remembers the file it was given, and can hold the analysis until released."""

    name = "RECORDING-V1"
    description = "Records its input."
    is_image = True
    seen: ClassVar[list[tuple[Path, bytes]]] = []

    def __init__(self, release: threading.Event | None = None) -> None:
        self.started = threading.Event()
        self._release = release

    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        self.seen.append((media.path, media.path.read_bytes()))
        self.started.set()
        if self._release is not None:
            assert self._release.wait(RESPONSE_TIMEOUT_SECONDS)
        return DetectorResult(
            fake_probability=0.2,
            note=None,
            media_type=MediaType.IMAGE,
            payload={"dimensions": None, "heatmap_scores": None, "visualization_path": None},
        )


def test_upload_is_stored_with_its_extension_and_always_deleted(
    auth, pink_png: Path, tmp_path: Path
) -> None:
    RecordingDetector.seen.clear()
    detectors = [RecordingDetector(), CrashingDetector()]
    app = create_app(Settings(api_key=auth["X-API-Key"], temp_dir=tmp_path), detectors=detectors)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert upload(client, auth, pink_png, model="RECORDING-V1").status_code == 200
        assert upload(client, auth, pink_png, model="CRASHING-V1").status_code == 500
        empty = client.post("/analyze", headers=auth, files={"media": ("empty.png", b"")})
        assert empty.status_code == 400
    ((stored, content),) = RecordingDetector.seen
    assert stored.parent == tmp_path and stored.suffix == ".png"
    assert stored.name.startswith(UPLOAD_PREFIX)
    assert content == pink_png.read_bytes()
    assert not list(tmp_path.glob(f"{UPLOAD_PREFIX}*"))


def test_ping_and_stats_answer_while_an_analysis_is_running(auth, pink_png: Path) -> None:
    release = threading.Event()
    detector = RecordingDetector(release)
    app = create_app(Settings(api_key=auth["X-API-Key"]), detectors=[detector])
    with TestClient(app) as client:
        outcome: dict[str, int] = {}
        worker = threading.Thread(
            target=lambda: outcome.update(status=upload(client, auth, pink_png).status_code)
        )
        worker.start()
        try:
            assert detector.started.wait(RESPONSE_TIMEOUT_SECONDS)
            assert client.get("/ping").json() == {"status": "pong"}
            assert client.get("/stats", headers=auth).status_code == 200
            assert "status" not in outcome, "the analysis should still be running"
        finally:
            release.set()
            worker.join(RESPONSE_TIMEOUT_SECONDS)
    assert outcome == {"status": 200}
