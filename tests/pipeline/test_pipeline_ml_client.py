"""The inference client against the fake server over HTTP: what it sends, how it classifies."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from media_analysis import ml_client
from media_analysis.choices import MediaType, Prediction
from media_analysis.ml_client import (
    PermanentInferenceError,
    TransientInferenceError,
    error_message_from_body,
    media_analyze,
    stats_fetch,
)
from tests.fakes.inference_server import Failure, FakeModel
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db


class RemoteStorage(FileSystemStorage):
    """A storage that, like a cloud one, has no local paths."""

    def path(self, name: str) -> str:
        raise NotImplementedError("no local paths")

    def _open(self, name: str, mode: str = "rb") -> File:
        return File(open(super().path(name), mode))  # noqa: SIM115 - the caller closes it


def test_analyze_streams_the_stored_file_with_key_headers_and_a_typed_name(fake_inference):
    media = stored_media(original_filename="Holiday Clip (1).MOV", content=b"x" * 5000)

    result = media_analyze(media=media, model_name="COLOR-CUES-LSTM-V1")

    assert result.prediction == Prediction.FAKE
    assert result.confidence == pytest.approx(0.8)
    assert (result.media_type, result.model_used) == (MediaType.VIDEO, "COLOR-CUES-LSTM-V1")
    assert result.data["frame_count"] == 100
    (request,) = fake_inference.analyze_requests()
    assert request.api_key == fake_inference.api_key
    assert request.correlation_id == result.correlation_id
    assert (request.model, request.filename, request.size) == (
        "COLOR-CUES-LSTM-V1",
        f"{media.pk}.mp4",
        5000,
    )
    assert (request.media_id, request.user_id) == (str(media.pk), str(media.owner_id))


def test_a_file_on_a_storage_without_local_paths_goes_through_a_temporary_copy(
    fake_inference, settings
):
    settings.ML_DOWNLOAD_CHUNK_BYTES = 1024
    media = stored_media(content=b"y" * 10_000)
    media.file.storage = RemoteStorage(location=settings.MEDIA_ROOT)

    media_analyze(media=media, model_name="SIGLIP-LSTM-V4")

    (request,) = fake_inference.analyze_requests()
    assert (request.filename, request.size) == (f"{media.pk}.mp4", 10_000)


def test_the_extension_falls_back_to_the_stored_mime_type(fake_inference_factory):
    fake_inference_factory([FakeModel("MEL-SPECTROGRAM-CNN-V3", audio=True)])
    media = stored_media(media_type=MediaType.AUDIO, extension="wav", mimetype="audio/mpeg")
    media.file.name = media.file.name.removesuffix(".wav")

    assert ml_client.upload_filename(media=media) == f"{media.pk}.mp3"


def test_a_missing_stored_file_is_permanent(fake_inference):
    media = stored_media()
    media.file.storage.delete(media.file.name)

    with pytest.raises(PermanentInferenceError, match="stored file is missing"):
        media_analyze(media=media, model_name="SIGLIP-LSTM-V4")
    assert fake_inference.analyze_requests() == []


@pytest.mark.parametrize(
    ("failure", "error_class", "status", "message"),
    [
        (
            Failure.ERROR_422,
            PermanentInferenceError,
            422,
            "Media could not be processed. Reason: audio shorter than one chunk",
        ),
        (
            Failure.ERROR_500,
            TransientInferenceError,
            500,
            "SIGLIP-LSTM-V4 crashed: CUDA out of memory",
        ),
        (Failure.ERROR_503, TransientInferenceError, 503, "ModelManager is not available."),
        (
            Failure.GARBAGE,
            TransientInferenceError,
            200,
            "The inference server sent an answer that is not valid JSON.",
        ),
    ],
)
def test_errors_are_classified_and_carry_the_users_message(
    fake_inference, failure, error_class, status, message
):
    fake_inference.model("SIGLIP-LSTM-V4").failure = failure

    with pytest.raises(error_class) as raised:
        media_analyze(media=stored_media(), model_name="SIGLIP-LSTM-V4")

    error = raised.value
    assert (error.status_code, error.message) == (status, message)
    (request,) = fake_inference.analyze_requests()
    assert error.details()["correlation_id"] == request.correlation_id
    assert error.details()["kind"] == ("transient" if error.transient else "permanent")


def test_a_wrong_api_key_is_permanent(fake_inference, settings):
    settings.ML_SERVER_API_KEY = "wrong"

    with pytest.raises(PermanentInferenceError) as raised:
        media_analyze(media=stored_media(), model_name="SIGLIP-LSTM-V4")

    assert (raised.value.status_code, raised.value.message) == (401, "Invalid or missing API Key")


def test_a_model_the_server_does_not_have_is_a_permanent_422(fake_inference):
    with pytest.raises(PermanentInferenceError) as raised:
        media_analyze(media=stored_media(), model_name="GONE-V9")

    assert raised.value.status_code == 422
    assert raised.value.message == "Requested model 'GONE-V9' is not active or available."


def test_an_extension_the_server_cannot_type_is_a_permanent_415(fake_inference):
    media = stored_media(extension="bin", mimetype="application/octet-stream")

    with pytest.raises(PermanentInferenceError) as raised:
        media_analyze(media=media, model_name="SIGLIP-LSTM-V4")

    assert raised.value.status_code == 415
    assert raised.value.message == f"Could not determine media type for file '{media.pk}.bin'."


def test_a_read_timeout_is_transient(fake_inference, settings):
    settings.ML_READ_TIMEOUT_SECONDS = 0.3
    fake_inference.model("SIGLIP-LSTM-V4").failure = Failure.TIMEOUT

    with pytest.raises(TransientInferenceError) as raised:
        media_analyze(media=stored_media(), model_name="SIGLIP-LSTM-V4")

    assert raised.value.message == "The inference server did not answer within 0.3 seconds."
    assert raised.value.status_code is None


def test_a_stopped_server_is_transient(fake_inference):
    fake_inference.stop()

    with pytest.raises(TransientInferenceError, match="could not be reached"):
        media_analyze(media=stored_media(), model_name="SIGLIP-LSTM-V4")
    with pytest.raises(TransientInferenceError, match="could not be reached"):
        stats_fetch()


def test_an_answer_that_is_not_a_valid_result_is_permanent(fake_inference):
    fake_inference.model("SIGLIP-LSTM-V4").confidence = 1.5

    with pytest.raises(PermanentInferenceError) as raised:
        media_analyze(media=stored_media(), model_name="SIGLIP-LSTM-V4")

    assert raised.value.message == (
        "The inference server's answer was not a valid result: confidence 1.5 is not between "
        "0 and 1."
    )


def test_stats_are_fetched_with_the_key_and_a_correlation_id(fake_inference):
    stats = stats_fetch()

    assert [model["name"] for model in stats["models_info"]] == [
        model.name for model in fake_inference.models
    ]
    (request,) = [r for r in fake_inference.requests if r.path == "/stats"]
    assert request.api_key == fake_inference.api_key
    assert request.correlation_id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"detail": "Uploaded media file is empty."}, "Uploaded media file is empty."),
        ({"detail": {"error": "Inference Error", "message": "boom"}}, "boom"),
        ({"error": "Internal Server Error", "message": "unhandled"}, "unhandled"),
        ({"detail": {"error": "Media Processing Error"}}, "Media Processing Error"),
        ({"detail": [{"type": "missing", "loc": ["body", "media"]}]}, ""),
        ("not an object", ""),
    ],
)
def test_the_users_message_is_extracted_as_the_contract_says(body, message):
    assert error_message_from_body(body) == message


def test_calls_share_one_kept_alive_connection(settings):
    """A worker connects to the inference server once, not for every call."""
    connections: list[tuple[str, int]] = []

    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            connections.append(self.client_address)

        def do_GET(self) -> None:  # noqa: N802 - the handler's own naming
            body = json.dumps({"models_info": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ML_SERVER_URL = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for _ in range(3):
            assert stats_fetch() == {"models_info": []}
    finally:
        server.shutdown()
        server.server_close()
    assert len(connections) == 1, connections


def test_a_forked_process_opens_its_own_connections(monkeypatch):
    """Sockets inherited across a fork (a worker's pool) belong to the parent: never reused."""
    session = ml_client._session()
    assert ml_client._session() is session
    monkeypatch.setattr(ml_client.os, "getpid", lambda: -1)
    assert ml_client._session() is not session
