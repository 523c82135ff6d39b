"""The inference-server client: `/stats` and `/analyze`, per the contract (`mlserver/CONTRACT.md`).

Every call carries the API key and its own correlation id (logged, and stored with failures) so
that one request can be followed across both services. Failures are classified once, here:
`PermanentInferenceError` when retrying the same (file, model) cannot help (4xx, an answer that is
not a result), `TransientInferenceError` when it may (connection refused, timeout, 5xx, 503,
an unreadable body).

A 200 answer is either a result (a prediction and its confidence) or an abstention ("no evidence":
`data.abstained` true with a `reason`), this project's extension of the contract
(`mlserver/CONTRACT.md`). An abstention is an answer, not a failure: it is never retried.
"""

from __future__ import annotations

import logging
import math
import mimetypes
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import requests
from django.conf import settings
from django.db.models.fields.files import FieldFile
from requests_toolbelt import MultipartEncoder

from media_analysis.choices import MediaType, Prediction
from media_analysis.file_delivery import stored_copy
from media_analysis.models import Media

logger = logging.getLogger(__name__)

_PAYLOAD_MEDIA_TYPES = {
    "video": MediaType.VIDEO,
    "audio": MediaType.AUDIO,
    "image": MediaType.IMAGE,
}


class InferenceError(Exception):
    """The inference server gave no usable answer; `message` is fit to show to a user."""

    transient = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        response_text: str = "",
        correlation_id: str = "",
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.response_text = storable_json(response_text[: settings.ML_ERROR_BODY_MAX_CHARS])
        self.correlation_id = correlation_id
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        """What an operator needs to find this failure in the inference server's logs."""
        return {
            "kind": "transient" if self.transient else "permanent",
            "status_code": self.status_code,
            "server_response": self.response_text,
            "correlation_id": self.correlation_id,
        }


class PermanentInferenceError(InferenceError):
    """Retrying the same file with the same model cannot succeed."""


class TransientInferenceError(InferenceError):
    """The server was unreachable, overloaded or broken this time; a later attempt may succeed."""

    transient = True


class InferenceTimeoutError(TransientInferenceError):
    """The server accepted the connection but did not answer within the read timeout.

    Distinct from a refused or unreachable server so that monitoring can tell "down" (503) from
    "too slow" (504); the pipeline treats both alike.
    """


# Shown when a server abstains without saying why.
UNEXPLAINED_ABSTENTION = "The model found nothing to judge this file by and gave no reason."


@dataclass(frozen=True)
class AnalysisResult:
    """A validated `/analyze` answer: the promoted columns plus the whole `data` payload.

    An abstention has no prediction and no confidence, and says why in `abstain_reason`.
    """

    model_used: str
    prediction: Prediction | None
    confidence: float | None
    processing_time: float | None
    media_type: MediaType | None
    data: dict[str, Any]
    correlation_id: str
    abstain_reason: str = ""

    @property
    def abstained(self) -> bool:
        return bool(self.abstain_reason)


def storable_json(value: Any) -> Any:
    """`value` with what a JSON column cannot hold taken out.

    PostgreSQL's jsonb refuses the NUL character (metadata strings read from media files carry
    them) and JSON has no NaN or infinity (Python's parser accepts them): NULs are dropped and
    non-finite numbers become null, recursively, so that one odd value never loses a result.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {storable_json(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


def _url(path: str) -> str:
    return f"{settings.ML_SERVER_URL.rstrip('/')}{path}"


class _Sessions(threading.local):
    session: requests.Session | None = None
    pid: int | None = None


_sessions = _Sessions()


def _session() -> requests.Session:
    """This thread's HTTP session, whose pooled connections to the inference server are kept
    alive between calls: a worker then connects (and over HTTPS, negotiates TLS) once, not for
    every analysis. Per process as well: connections inherited across a fork are the parent's.
    """
    if _sessions.session is None or _sessions.pid != os.getpid():
        _sessions.session, _sessions.pid = requests.Session(), os.getpid()
    return _sessions.session


def _headers(correlation_id: str) -> dict[str, str]:
    return {"X-API-Key": settings.ML_SERVER_API_KEY, "X-Correlation-ID": correlation_id}


def error_message_from_body(body: Any) -> str:
    """The contract's user-facing message: `detail` if a string, else `detail.message`, else
    `message`, else `detail.error`; empty when the body offers none of them."""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail")
    if isinstance(detail, str) and detail.strip():
        return detail.strip()
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        return detail["message"].strip()
    if isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"].strip()
    if isinstance(detail, dict) and isinstance(detail.get("error"), str):
        return detail["error"].strip()
    return ""


def _error_for_status(response: requests.Response, correlation_id: str) -> InferenceError:
    try:
        message = error_message_from_body(response.json())
    except ValueError:
        message = ""
    message = message or f"The inference server answered HTTP {response.status_code}."
    # 4xx is permanent for this (file, model) pair by the contract; anything else unexpected is
    # treated like a server fault.
    error_class = (
        PermanentInferenceError if 400 <= response.status_code < 500 else TransientInferenceError
    )
    return error_class(
        message,
        status_code=response.status_code,
        response_text=response.text,
        correlation_id=correlation_id,
    )


def _send(
    method: str,
    path: str,
    *,
    correlation_id: str,
    read_timeout: float,
    body: MultipartEncoder | None = None,
) -> tuple[requests.Response, Any]:
    """One HTTP call and its JSON body, with transport failures turned into
    `TransientInferenceError` and non-200 answers into the matching `InferenceError`."""
    headers = _headers(correlation_id)
    if body is not None:
        headers["Content-Type"] = body.content_type
    started = time.monotonic()
    try:
        response = _session().request(
            method,
            _url(path),
            headers=headers,
            data=body,
            timeout=(settings.ML_CONNECT_TIMEOUT_SECONDS, read_timeout),
            allow_redirects=False,
        )
    except requests.ConnectTimeout as exc:
        logger.warning(
            "inference %s %s: connect timeout correlation_id=%s", method, path, correlation_id
        )
        raise TransientInferenceError(
            "The inference server could not be reached.", correlation_id=correlation_id
        ) from exc
    except requests.Timeout as exc:
        logger.warning("inference %s %s timed out correlation_id=%s", method, path, correlation_id)
        raise InferenceTimeoutError(
            f"The inference server did not answer within {read_timeout:g} seconds.",
            correlation_id=correlation_id,
        ) from exc
    except requests.RequestException as exc:
        logger.warning(
            "inference %s %s failed correlation_id=%s: %s", method, path, correlation_id, exc
        )
        raise TransientInferenceError(
            "The inference server could not be reached.", correlation_id=correlation_id
        ) from exc
    logger.info(
        "inference %s %s -> %s in %.0f ms correlation_id=%s",
        method,
        path,
        response.status_code,
        (time.monotonic() - started) * 1000,
        correlation_id,
    )
    if response.status_code != 200:
        raise _error_for_status(response, correlation_id)
    try:
        payload = response.json()
    except ValueError as exc:
        raise TransientInferenceError(
            "The inference server sent an answer that is not valid JSON.",
            status_code=response.status_code,
            response_text=response.text,
            correlation_id=correlation_id,
        ) from exc
    return response, payload


def stats_fetch() -> dict[str, Any]:
    """`GET /stats`: the server's state and its models (uncached; see `discovery`)."""
    correlation_id = str(uuid.uuid4())
    response, body = _send(
        "GET",
        "/stats",
        correlation_id=correlation_id,
        read_timeout=settings.ML_STATS_READ_TIMEOUT_SECONDS,
    )
    if not isinstance(body, dict) or not isinstance(body.get("models_info"), list):
        raise PermanentInferenceError(
            "The inference server's /stats answer has no model list.",
            status_code=response.status_code,
            response_text=response.text,
            correlation_id=correlation_id,
        )
    return body


def upload_extension(*, media: Media) -> str:
    """The extension the file is sent with (lower-case, no dot; "" when there is none).

    It comes from the stored key (which the ingest service chose from the validated format) or the
    stored MIME type, never from the name the user uploaded. Discovery matches it against a
    model's accepted formats, so a model is offered exactly the files it will be sent.
    """
    extension = PurePosixPath(media.file.name or "").suffix
    if not extension:
        extension = mimetypes.guess_extension(media.mimetype or "") or ""
    return extension.lower().lstrip(".")


def upload_filename(*, media: Media) -> str:
    """The multipart filename: the media id plus an extension the server can type the file by."""
    extension = upload_extension(media=media)
    if not extension:
        raise PermanentInferenceError(
            "The stored file has no extension the inference server could recognise."
        )
    return f"{media.id}.{extension}"


@contextmanager
def _readable(field_file: FieldFile) -> Iterator[IO[bytes]]:
    """The stored file opened for streaming, without ever holding it in memory.

    Local storages are read in place; remote ones are first copied to a temporary file in chunks,
    so that the upload has a known length and can be streamed at disk speed.
    """
    try:
        with stored_copy(field_file) as path, path.open("rb") as handle:
            yield handle
    except FileNotFoundError as exc:
        raise PermanentInferenceError("The stored file is missing.") from exc


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _result_from_body(
    body: Any, *, requested_model: str, response: requests.Response, correlation_id: str
) -> AnalysisResult:
    def invalid(reason: str) -> PermanentInferenceError:
        return PermanentInferenceError(
            f"The inference server's answer was not a valid result: {reason}.",
            status_code=response.status_code,
            response_text=response.text,
            correlation_id=correlation_id,
        )

    if not isinstance(body, dict) or body.get("success") is not True:
        message = error_message_from_body(body) or "The inference server reported a failure."
        raise PermanentInferenceError(
            message,
            status_code=response.status_code,
            response_text=response.text,
            correlation_id=correlation_id,
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise invalid("no data")
    processing_time = _number(data.get("processing_time"))
    if processing_time is not None and processing_time < 0:
        processing_time = None
    model_used = body.get("model_used")
    model_used = model_used if isinstance(model_used, str) and model_used else requested_model
    media_type = _PAYLOAD_MEDIA_TYPES.get(str(data.get("media_type", "")).lower())
    if data.get("abstained") is True:
        reason = data.get("reason")
        return AnalysisResult(
            model_used=model_used,
            prediction=None,
            confidence=None,
            processing_time=processing_time,
            media_type=media_type,
            data=storable_json(data),
            correlation_id=correlation_id,
            abstain_reason=storable_json(reason.strip())
            if isinstance(reason, str) and reason.strip()
            else UNEXPLAINED_ABSTENTION,
        )
    prediction = data.get("prediction")
    if prediction not in Prediction.values:
        raise invalid(f"prediction {prediction!r} is neither REAL nor FAKE")
    confidence = _number(data.get("confidence"))
    if confidence is None or not 0.0 <= confidence <= 1.0:
        raise invalid(f"confidence {data.get('confidence')!r} is not between 0 and 1")
    return AnalysisResult(
        model_used=model_used,
        prediction=Prediction(prediction),
        confidence=confidence,
        processing_time=processing_time,
        media_type=media_type,
        data=storable_json(data),
        correlation_id=correlation_id,
    )


def media_analyze(*, media: Media, model_name: str) -> AnalysisResult:
    """`POST /analyze`: run one model on the media's stored file, streamed from storage.

    `mediaId` and `userId` are sent so that the server's own progress events can be matched to
    their owner by the progress relay.
    """
    correlation_id = str(uuid.uuid4())
    filename = upload_filename(media=media)
    with _readable(media.file) as handle:
        encoder = MultipartEncoder(
            fields={
                "model": model_name,
                "mediaId": str(media.id),
                "userId": str(media.owner_id),
                "media": (filename, handle, media.mimetype or "application/octet-stream"),
            }
        )
        logger.info(
            "inference analyze media=%s model=%s file=%s correlation_id=%s",
            media.id,
            model_name,
            filename,
            correlation_id,
        )
        response, body = _send(
            "POST",
            "/analyze",
            correlation_id=correlation_id,
            read_timeout=settings.ML_READ_TIMEOUT_SECONDS,
            body=encoder,
        )
    return _result_from_body(
        body, requested_model=model_name, response=response, correlation_id=correlation_id
    )
