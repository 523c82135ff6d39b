"""A fake inference server speaking the contract (`mlserver/CONTRACT.md`) over real HTTP.

It serves `/`, `/ping`, `/stats` (in the contract's exact shape) and `/analyze` (multipart, typed
by the filename's extension) on 127.0.0.1 with a free port, from a background thread. Models are
configurable (name, media-type flags, loaded, prediction and confidence, delay, failure mode,
progress events to publish, a condition to hold the answer for, and the contract's extensions:
accepted formats and abstention, "no evidence"), every request and answer is
recorded with its time, and every answer is computed from the configuration and the request:
nothing is random.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"}
AUDIO_EXTENSIONS = {".mp3", ".wav", ".ogg", ".m4a", ".flac"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif"}


class Failure(enum.Enum):
    NONE = "none"
    ERROR_500_ONCE = "500 once, then OK"
    ERROR_500 = "always 500"
    ERROR_503 = "always 503"
    ERROR_422 = "422 media processing error"
    TIMEOUT = "answer only after the client gave up"
    GARBAGE = "200 with a body that is not JSON"


@dataclass
class FakeModel:
    name: str
    video: bool = False
    audio: bool = False
    image: bool = False
    multimodal: bool = False
    loaded: bool = True
    prediction: str = "FAKE"
    confidence: float = 0.9
    delay: float = 0.0
    failure: Failure = Failure.NONE
    # FRAME_ANALYSIS_PROGRESS events to publish before answering (when mediaId/userId were sent).
    progress_events: int = 0
    # The result's `note`, verbatim (e.g. text with characters a database column cannot hold).
    note: str | None = None
    calls: int = 0
    # `/stats` → `models_info[].description`; "Fake <name>" when not given.
    description: str | None = None
    # After `delay`, hold the answer until this returns true (or `hold_timeout` passes): a test
    # waits for what it needs to have happened meanwhile instead of guessing a long enough delay.
    # Called from the server's request threads; the client's read timeout must outlast the hold.
    hold_until: Callable[[], bool] | None = None
    hold_timeout: float = 20.0
    # `models_info[].accepted_formats` (lower-case extensions); None sends no list, as the public
    # server does. A file of another format is refused with 422, as the reference server does.
    accepted_formats: list[str] | None = None
    # Answer "no evidence" with this reason instead of a prediction.
    abstain_reason: str | None = None
    # Per upload extension ("mp3"), (prediction, confidence) instead of the two fields above:
    # a model whose answer depends on the encoding, as heuristic detectors' often does.
    answers_by_extension: dict[str, tuple[str, float]] = field(default_factory=dict)

    def answer_for(self, filename: str) -> tuple[str, float]:
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        return self.answers_by_extension.get(extension, (self.prediction, self.confidence))

    def supports(self, media_type: str) -> bool:
        return {"video": self.video, "audio": self.audio, "image": self.image}[media_type]

    def reads(self, filename: str) -> bool:
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        return self.accepted_formats is None or extension in self.accepted_formats


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    api_key: str | None
    correlation_id: str | None
    model: str | None = None
    filename: str | None = None
    size: int | None = None
    # SHA-256 of the uploaded file's bytes, so a test can prove what exactly arrived.
    sha256: str | None = None
    media_id: str | None = None
    user_id: str | None = None
    received_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RecordedAnswer:
    """One answer as it left the server; `correlation_id` ties it to its `RecordedRequest`."""

    path: str
    status: int
    correlation_id: str | None
    model: str | None = None
    sent_at: float = field(default_factory=time.monotonic)


@dataclass
class FakeInferenceServer:
    models: list[FakeModel]
    api_key: str = "fake-ml-key"
    redis_url: str | None = None
    progress_channel: str = "media-progress-events"
    # How long a TIMEOUT model sleeps: set it above the client's read timeout.
    timeout_sleep: float = 5.0
    # `/stats`: its `status` field, and how it fails (NONE, ERROR_500, ERROR_503, TIMEOUT, GARBAGE).
    stats_status: str = "running"
    stats_failure: Failure = Failure.NONE
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0
    answers: list[RecordedAnswer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeInferenceServer:
        """Listen (again, on the same port after `stop`)."""
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: new connections are refused; sleeping requests wake and end."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def model(self, name: str) -> FakeModel:
        return next(model for model in self.models if model.name == name)

    def analyze_requests(self, model: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                request
                for request in self.requests
                if request.path == "/analyze" and (model is None or request.model == model)
            ]

    def analyze_answers(self, model: str | None = None) -> list[RecordedAnswer]:
        with self._lock:
            return [
                answer
                for answer in self.answers
                if answer.path == "/analyze" and (model is None or answer.model == model)
            ]

    # --- answers ----------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _record_answer(self, answer: RecordedAnswer) -> None:
        with self._lock:
            self.answers.append(answer)

    def hold(self, model: FakeModel) -> None:
        """Wait for `model.hold_until`, at most `model.hold_timeout` seconds or until `stop`."""
        if model.hold_until is None:
            return
        deadline = time.monotonic() + model.hold_timeout
        while not model.hold_until() and time.monotonic() < deadline:
            if self._stopping.wait(0.02):
                return

    def _next_call(self, model: FakeModel) -> int:
        with self._lock:
            model.calls += 1
            return model.calls

    def stats_body(self) -> dict[str, Any]:
        loaded = [model.name for model in self.models if model.loaded]
        return {
            "service_name": "Drishtiksha: Deepfake Detection",
            "version": "3.0.0",
            "status": self.stats_status,
            "uptime_seconds": 12.5,
            "device_info": {
                "type": "cpu",
                "name": "Fake CPU",
                "total_memory": None,
                "used_memory": None,
                "free_memory": None,
                "memory_usage_percent": None,
                "compute_capability": None,
                "cuda_version": None,
            },
            "system_info": {
                "python_version": "3.12.11",
                "platform": "Linux-fake",
                "cpu_count": 2,
                "total_ram": 8.0,
                "used_ram": 1.0,
                "ram_usage_percent": 12.5,
                "uptime_seconds": 12.5,
            },
            "models_info": [
                {
                    "name": model.name,
                    "class_name": model.name.title().replace("-", ""),
                    "description": model.description or f"Fake {model.name}",
                    "loaded": model.loaded,
                    "device": "cpu",
                    "model_path": f"models/{model.name.lower()}.pth",
                    "isAudio": model.audio,
                    "isVideo": model.video,
                    "isImage": model.image,
                    "isMultiModal": model.multimodal,
                    "memory_usage_mb": None,
                    "load_time": None,
                    "inference_count": model.calls,
                    **(
                        {"accepted_formats": model.accepted_formats}
                        if model.accepted_formats is not None
                        else {}
                    ),
                }
                for model in self.models
            ],
            "active_models_count": len(loaded),
            "total_models_count": len(self.models),
            "configuration": {
                "project_name": "fake",
                "device": "cpu",
                "default_model": loaded[0] if loaded else None,
                "active_models": loaded,
                "torch_version": "2.8.0",
                "cuda_available": False,
            },
        }

    def result_body(self, model: FakeModel, media_type: str, filename: str = "") -> dict[str, Any]:
        if model.abstain_reason is not None:
            return self.abstention_body(model, media_type)
        prediction, confidence = model.answer_for(filename)
        fake_probability = confidence if prediction == "FAKE" else 1 - confidence
        data: dict[str, Any] = {
            "prediction": prediction,
            "confidence": confidence,
            "processing_time": model.delay,
            "note": model.note,
            "media_type": media_type,
        }
        if media_type == "video":
            data.update(
                frame_count=100,
                frames_analyzed=4,
                frame_predictions=[
                    {"index": index, "score": fake_probability, "prediction": prediction}
                    for index in range(4)
                ],
                metrics={"final_average_score": fake_probability, "max_score": fake_probability},
                visualization_path=None,
            )
        elif media_type == "audio":
            data.update(
                properties={"duration_seconds": 1.0, "sample_rate": 16000, "channels": 1},
                pitch=None,
                energy={"rms_energy": 0.04, "silence_ratio": -0.01},
                spectral=None,
                voice_quality=None,
                visualization=None,
            )
        else:
            data.update(
                dimensions={"width": 64, "height": 48},
                heatmap_scores=None,
                visualization_path=None,
            )
        return {
            "success": True,
            "model_used": model.name,
            "timestamp": "2025-10-12T10:00:00.123456",
            "data": data,
        }

    def abstention_body(self, model: FakeModel, media_type: str) -> dict[str, Any]:
        return {
            "success": True,
            "model_used": model.name,
            "timestamp": "2025-10-12T10:00:00.123456",
            "data": {
                "abstained": True,
                "reason": model.abstain_reason,
                "prediction": None,
                "confidence": None,
                "processing_time": model.delay,
                "note": model.note,
                "media_type": media_type,
            },
        }

    def publish_progress(self, model: FakeModel, *, media_id: str, user_id: str) -> None:
        if not self.redis_url or not model.progress_events:
            return
        client = redis.Redis.from_url(self.redis_url)
        try:
            for step in range(1, model.progress_events + 1):
                event = {
                    "media_id": media_id,
                    "user_id": user_id,
                    "event": "FRAME_ANALYSIS_PROGRESS",
                    "message": f"Processed window {step}/{model.progress_events}",
                    "data": {
                        "model_name": model.name,
                        "progress": step,
                        "total": model.progress_events,
                        "details": None,
                    },
                }
                client.publish(self.progress_channel, json.dumps(event))
        finally:
            client.close()

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the server stops, so that `stop` never hangs."""
        self._stopping.wait(seconds)


def _media_type_of(filename: str) -> str | None:
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    for media_type, extensions in (
        ("video", VIDEO_EXTENSIONS),
        ("audio", AUDIO_EXTENSIONS),
        ("image", IMAGE_EXTENSIONS),
    ):
        if extension in extensions:
            return media_type
    return None


def _multipart_fields(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart body: name -> (filename or None, content)."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, content = part[2:-2].partition(b"\r\n\r\n")
        name = re.search(rb'\bname="([^"]*)"', head)
        filename = re.search(rb'\bfilename="([^"]*)"', head)
        if name:
            fields[name.group(1).decode()] = (
                filename.group(1).decode() if filename else None,
                content,
            )
    return fields


def _handler_for(fake: FakeInferenceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes; without this, Nagle's algorithm can hold
        # the body back until the client's delayed ACK, adding tens of milliseconds at random.
        disable_nagle_algorithm = True
        # The model the current `/analyze` request named, for the record of its answer.
        answering_model: str | None = None

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

        def _send_json(self, status: int, body: Any) -> None:
            self._send_raw(status, json.dumps(body).encode(), "application/json")

        def _send_raw(self, status: int, payload: bytes, content_type: str) -> None:
            fake._record_answer(
                RecordedAnswer(
                    path=self.path,
                    status=status,
                    correlation_id=self.headers.get("X-Correlation-ID"),
                    model=getattr(self, "answering_model", None),
                )
            )
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                correlation_id = self.headers.get("X-Correlation-ID")
                if correlation_id and status < 500:
                    self.send_header("X-Correlation-ID", correlation_id)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                # The client gave up (its read timeout) before the answer was ready.
                pass

        def _authorised(self) -> bool:
            if self.headers.get("X-API-Key") == fake.api_key:
                return True
            self._send_json(401, {"detail": "Invalid or missing API Key"})
            return False

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self.answering_model = None
            fake._record(
                RecordedRequest(
                    method="GET",
                    path=self.path,
                    api_key=self.headers.get("X-API-Key"),
                    correlation_id=self.headers.get("X-Correlation-ID"),
                )
            )
            if self.path == "/":
                loaded = [model for model in fake.models if model.loaded]
                self._send_json(
                    200,
                    {
                        "status": "ok",
                        "active_models": [
                            {"name": m.name, "loaded": m.loaded, "description": f"Fake {m.name}"}
                            for m in fake.models
                        ],
                        "default_model": loaded[0].name if loaded else None,
                    },
                )
            elif self.path == "/ping":
                self._send_json(200, {"status": "pong"})
            elif self.path == "/stats":
                if self._authorised():
                    self._answer_stats()
            else:
                self._send_json(404, {"detail": "Not Found"})

        def _answer_stats(self) -> None:
            failure = fake.stats_failure
            if failure == Failure.ERROR_500:
                self._send_json(500, {"error": "Internal Server Error", "message": "stats broke"})
            elif failure == Failure.ERROR_503:
                self._send_json(503, {"detail": "ModelManager is not available."})
            elif failure == Failure.GARBAGE:
                self._send_raw(200, b"<html>502 Bad Gateway</html>", "text/html")
            else:
                if failure == Failure.TIMEOUT:
                    fake.sleep(fake.timeout_sleep)
                self._send_json(200, fake.stats_body())

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            self.answering_model = None
            if self.path != "/analyze":
                self._send_json(404, {"detail": "Not Found"})
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fields = _multipart_fields(self.headers.get("Content-Type", ""), body)

            def text(name: str) -> str | None:
                return fields[name][1].decode() if name in fields else None

            filename, content = fields.get("media", (None, b""))
            model_name = text("model")
            self.answering_model = model_name
            fake._record(
                RecordedRequest(
                    method="POST",
                    path="/analyze",
                    api_key=self.headers.get("X-API-Key"),
                    correlation_id=self.headers.get("X-Correlation-ID"),
                    model=model_name,
                    filename=filename,
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    media_id=text("mediaId"),
                    user_id=text("userId"),
                )
            )
            if not self._authorised():
                return
            if "media" not in fields:
                self._send_json(
                    422, {"detail": [{"type": "missing", "loc": ["body", "media"], "msg": "x"}]}
                )
                return
            if not content:
                self._send_json(400, {"detail": "Uploaded media file is empty."})
                return
            media_type = _media_type_of(filename or "")
            if media_type is None:
                self._send_json(
                    415, {"detail": f"Could not determine media type for file '{filename}'."}
                )
                return
            model = next((m for m in fake.models if m.name == model_name and m.loaded), None)
            if model is None:
                self._send_json(
                    422, {"detail": f"Requested model '{model_name}' is not active or available."}
                )
                return
            if not model.supports(media_type):
                self._send_json(
                    422,
                    {
                        "detail": f"Model '{model.name}' does not support media of type "
                        f"'{media_type.upper()}'."
                    },
                )
                return
            if not model.reads(filename or ""):
                self._send_json(
                    422, {"detail": f"Model '{model.name}' does not read the file '{filename}'."}
                )
                return
            self._answer(model, media_type, text("mediaId"), text("userId"), filename or "")

        def _answer(
            self,
            model: FakeModel,
            media_type: str,
            media_id: str | None,
            user_id: str | None,
            filename: str,
        ) -> None:
            call = fake._next_call(model)
            correlation_id = self.headers.get("X-Correlation-ID") or str(uuid.uuid4())
            if model.failure == Failure.ERROR_500 or (
                model.failure == Failure.ERROR_500_ONCE and call == 1
            ):
                self._send_json(
                    500,
                    {
                        "detail": {
                            "error": "Inference Error",
                            "message": f"{model.name} crashed: CUDA out of memory",
                            "primary_error": "CUDA out of memory",
                            "fallback_error": None,
                            "correlation_id": correlation_id,
                        }
                    },
                )
                return
            if model.failure == Failure.ERROR_503:
                self._send_json(503, {"detail": "ModelManager is not available."})
                return
            if model.failure == Failure.ERROR_422:
                self._send_json(
                    422,
                    {
                        "detail": {
                            "error": "Media Processing Error",
                            "message": "Media could not be processed. Reason: audio shorter "
                            "than one chunk",
                            "correlation_id": correlation_id,
                        }
                    },
                )
                return
            if media_id and user_id:
                fake.publish_progress(model, media_id=media_id, user_id=user_id)
            started = time.monotonic()
            fake.sleep(model.delay)
            fake.hold(model)
            if model.failure == Failure.TIMEOUT:
                fake.sleep(fake.timeout_sleep - (time.monotonic() - started))
            if model.failure == Failure.GARBAGE:
                self._send_raw(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                return
            self._send_json(200, fake.result_body(model, media_type, filename))

    return Handler
