"""The HTTP application: the inference-server contract over FastAPI.

Request flow for ``POST /analyze``: API key and correlation id (middleware, before the body
is read) -> media type from the extension (415) -> model selection (422) -> upload streamed
to a file in the server's upload directory (400 if empty) -> detector in a worker thread, at
most ``max_concurrent_analyses`` at once, so ``/ping`` and ``/stats`` stay responsive -> JSON
answer (a result, or an abstention: "no evidence"); the file is always deleted. Content that is
no container the server reads is a 415.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlserver import __version__
from mlserver.analysis import run_analysis
from mlserver.config import Settings
from mlserver.detectors import AnalysisContext, Detector
from mlserver.errors import (
    InferenceError,
    MediaProcessingError,
    ModelSelectionError,
    UnsupportedContainerError,
)
from mlserver.events import ProgressReporter, RedisPublisher
from mlserver.media import MediaFile, extension_of, media_type_for_filename
from mlserver.registry import ModelRegistry
from mlserver.system_info import device_info, system_info
from mlserver.uploads import prepare_upload_dir, store_upload

logger = logging.getLogger(__name__)

SERVICE_NAME = "Drishtiksha: Deepfake Detection (CPU reference server)"
PROJECT_NAME = "Drishtiksha CPU reference inference server"
PUBLIC_PATHS = frozenset({"/", "/ping"})
CORRELATION_HEADER = "X-Correlation-ID"
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class ServerState:
    """Everything the routes need, built once per application."""

    settings: Settings
    registry: ModelRegistry
    publisher: RedisPublisher | None
    limiter: anyio.CapacityLimiter
    started: float

    @property
    def uptime_seconds(self) -> float:
        return round(time.monotonic() - self.started, 1)


def create_app(
    settings: Settings | None = None, *, detectors: Sequence[Detector] | None = None
) -> FastAPI:
    """Build the application; ``settings`` default to the environment.

    ``detectors`` replaces the built-in detectors (``settings.active_models`` is then
    ignored); it exists so tests can exercise failure paths with a detector of their own.
    Uploads left in ``settings.temp_dir`` by a server that was killed are removed here.
    """
    settings = settings or Settings.from_env()
    prepare_upload_dir(settings.temp_dir)
    registry = (
        ModelRegistry(detectors)
        if detectors is not None
        else ModelRegistry.from_builtin(settings.active_models)
    )
    publisher = (
        RedisPublisher(
            settings.redis_url,
            settings.progress_channel,
            timeout_seconds=settings.redis_timeout_seconds,
        )
        if settings.redis_url
        else None
    )
    state = ServerState(
        settings=settings,
        registry=registry,
        publisher=publisher,
        limiter=anyio.CapacityLimiter(settings.max_concurrent_analyses),
        started=time.monotonic(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if publisher is not None:
            publisher.close()

    app = FastAPI(
        title=PROJECT_NAME,
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.server = state
    app.add_middleware(RequestContextMiddleware, api_key=settings.api_key)
    app.add_exception_handler(Exception, _unhandled_error)
    _add_routes(app)
    return app


class RequestContextMiddleware:
    """Correlation id and API key, as plain ASGI so a rejected upload is never read.

    The correlation id comes from ``X-Correlation-ID`` (one is generated when absent), is
    stored in ``request.state.correlation_id`` and echoed on the response.
    """

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self._app = app
        self._api_key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        correlation_id = headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_correlation_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        if scope["path"] not in PUBLIC_PATHS and not self._authorised(headers.get(API_KEY_HEADER)):
            response = JSONResponse({"detail": "Invalid or missing API Key"}, status_code=401)
            await response(scope, receive, send_with_correlation_id)
            return
        await self._app(scope, receive, send_with_correlation_id)

    def _authorised(self, provided: str | None) -> bool:
        return provided is not None and secrets.compare_digest(provided.encode(), self._api_key)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    """The contract's global 500 body; the traceback goes to the log only."""
    correlation_id = getattr(request.state, "correlation_id", None)
    logger.exception(
        "Unhandled error on %s [correlation_id=%s]", request.url.path, correlation_id, exc_info=exc
    )
    return JSONResponse(
        {
            "error": "Internal Server Error",
            "message": "An unexpected error occurred.",
            "details": {"correlation_id": correlation_id},
        },
        status_code=500,
    )


def _server(request: Request) -> ServerState:
    return request.app.state.server


def _configuration(state: ServerState) -> dict[str, Any]:
    return {
        "project_name": PROJECT_NAME,
        "device": "cpu",
        "default_model": state.registry.default_model,
        "active_models": state.registry.names,
        # No PyTorch and no CUDA: every detector is NumPy/SciPy/OpenCV code.
        "torch_version": None,
        "cuda_available": False,
    }


def _add_routes(app: FastAPI) -> None:
    @app.get("/")
    async def root(request: Request) -> dict[str, Any]:
        registry = _server(request).registry
        return {
            "status": "ok",
            "active_models": [
                {"name": d.name, "loaded": True, "description": d.description}
                for d in registry.detectors()
            ],
            "default_model": registry.default_model,
        }

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "pong"}

    @app.get("/stats")
    async def stats(request: Request) -> dict[str, Any]:
        state = _server(request)
        uptime = state.uptime_seconds
        models = state.registry.models_info()
        return {
            "service_name": SERVICE_NAME,
            "version": __version__,
            "status": "running",
            "uptime_seconds": uptime,
            "device_info": device_info(),
            "system_info": system_info(uptime),
            "models_info": models,
            "active_models_count": len(models),
            "total_models_count": len(models),
            "configuration": _configuration(state),
        }

    @app.get("/models")
    async def models(request: Request) -> dict[str, Any]:
        registry = _server(request).registry
        names = registry.names
        return {
            "models": registry.models_info(),
            "summary": {
                "total_configured": len(names),
                "currently_loaded": len(names),
                "active_models": names,
                "loaded_models": names,
            },
        }

    @app.get("/device")
    async def device() -> dict[str, Any]:
        return device_info()

    @app.get("/system")
    async def system(request: Request) -> dict[str, Any]:
        return system_info(_server(request).uptime_seconds)

    @app.get("/config")
    async def config(request: Request) -> dict[str, Any]:
        return _configuration(_server(request))

    @app.post("/analyze")
    async def analyze(
        request: Request,
        media: Annotated[UploadFile, File()],
        model: Annotated[str | None, Form()] = None,
        media_id: Annotated[str | None, Form(alias="mediaId")] = None,
        user_id: Annotated[str | None, Form(alias="userId")] = None,
    ) -> dict[str, Any]:
        state = _server(request)
        correlation_id: str = request.state.correlation_id
        filename = media.filename or ""
        media_type = media_type_for_filename(filename)
        if media_type is None:
            raise HTTPException(415, f"Could not determine media type for file '{filename}'.")
        try:
            detector = state.registry.select(model, media_type, extension_of(filename))
        except ModelSelectionError as exc:
            raise HTTPException(422, str(exc)) from exc

        path, size = await run_in_threadpool(
            functools.partial(
                store_upload,
                media.file,
                directory=state.settings.temp_dir,
                suffix=Path(filename).suffix.lower(),
            )
        )
        try:
            if size == 0:
                raise HTTPException(400, "Uploaded media file is empty.")
            reporter = ProgressReporter(
                state.publisher,
                model_name=detector.name,
                media_id=media_id,
                user_id=user_id,
                correlation_id=correlation_id,
            )
            job = functools.partial(
                run_analysis,
                detector,
                MediaFile(path=path, media_type=media_type, filename=filename),
                AnalysisContext(settings=state.settings, reporter=reporter),
                state.registry,
                correlation_id,
            )
            data = await anyio.to_thread.run_sync(job, limiter=state.limiter)
        except UnsupportedContainerError as exc:
            raise HTTPException(
                415,
                {
                    "error": "Unsupported Media Type",
                    "message": f"Media could not be processed. Reason: {exc}",
                    "correlation_id": correlation_id,
                },
            ) from exc
        except MediaProcessingError as exc:
            raise HTTPException(
                422,
                {
                    "error": "Media Processing Error",
                    "message": f"Media could not be processed. Reason: {exc}",
                    "correlation_id": correlation_id,
                },
            ) from exc
        except InferenceError as exc:
            raise HTTPException(
                500,
                {
                    "error": "Inference Error",
                    "message": f"Model '{detector.name}' failed while analysing the media.",
                    "primary_error": exc.primary_error,
                    "fallback_error": None,
                    "correlation_id": correlation_id,
                },
            ) from exc
        finally:
            path.unlink(missing_ok=True)
        return {
            "success": True,
            "model_used": detector.name,
            "timestamp": datetime.now(UTC).replace(tzinfo=None).isoformat(),
            "data": data,
        }
