"""The real server: ``python -m mlserver`` in a subprocess, spoken to over a TCP socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

API_KEY = "process-test-key"
START_TIMEOUT_SECONDS = 30.0
POLL_INTERVAL_SECONDS = 0.1
REQUEST_TIMEOUT_SECONDS = 60.0
SHUTDOWN_TIMEOUT_SECONDS = 10.0
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
IMPORT_TIMEOUT_SECONDS = 60.0
# Imports the server as ``python -m mlserver`` does (and builds the app, in case anything is
# imported lazily), then prints every loaded module that is Django or part of it.
DJANGO_MODULES_PROBE = """
import sys
{prelude}
import mlserver
import mlserver.__main__
import mlserver.app
from mlserver.config import Settings
mlserver.app.create_app(Settings())
print(" ".join(sorted(m for m in sys.modules if m == "django" or m.startswith("django."))))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def django_modules_loaded(prelude: str = "") -> list[str]:
    """Django modules in ``sys.modules`` of a fresh interpreter after importing the server."""
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-c", DJANGO_MODULES_PROBE.format(prelude=prelude)],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.split()


def test_the_server_never_imports_django() -> None:
    # The probe itself must see Django when something does import it.
    assert "django" in django_modules_loaded("import django.http")
    assert django_modules_loaded() == []


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "MLSERVER_API_KEY": API_KEY,
        "MLSERVER_HOST": "127.0.0.1",
        "MLSERVER_PORT": str(port),
        "MLSERVER_ACTIVE_MODELS": "PROVENANCE-METADATA-V1,ELA-JPEG-V1,TEMPORAL-CONSISTENCY-V1",
        "MLSERVER_LOG_LEVEL": "warning",
    }
    environment.pop("MLSERVER_REDIS_URL", None)
    environment.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "mlserver"], cwd=REPOSITORY_ROOT, env=environment
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, "the server exited during start-up"
            try:
                if httpx.get(f"{url}/ping").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(POLL_INTERVAL_SECONDS)
        yield url
    finally:
        process.terminate()
        process.wait(SHUTDOWN_TIMEOUT_SECONDS)


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        yield client


def test_real_server_answers_the_status_endpoints(http: httpx.Client) -> None:
    assert http.get("/ping").json() == {"status": "pong"}
    root = http.get("/").json()
    assert root["default_model"] == "PROVENANCE-METADATA-V1"
    assert [m["name"] for m in root["active_models"]] == [
        "PROVENANCE-METADATA-V1",
        "ELA-JPEG-V1",
        "TEMPORAL-CONSISTENCY-V1",
    ]
    assert http.get("/stats").status_code == 401
    stats = http.get("/stats", headers={"X-API-Key": API_KEY, "X-Correlation-ID": "proc-1"})
    assert stats.status_code == 200
    assert stats.headers["X-Correlation-ID"] == "proc-1"
    assert stats.json()["device_info"]["type"] == "cpu"


def test_real_server_analyses_uploads(
    http: httpx.Client, pink_jpeg: Path, smooth_video: Path
) -> None:
    headers = {"X-API-Key": API_KEY, "X-Correlation-ID": "proc-2"}
    with pink_jpeg.open("rb") as handle:
        image = http.post(
            "/analyze",
            headers=headers,
            files={"media": (pink_jpeg.name, handle, "image/jpeg")},
            data={"model": "ELA-JPEG-V1"},
        )
    assert image.status_code == 200, image.text
    assert image.headers["X-Correlation-ID"] == "proc-2"
    assert image.json()["model_used"] == "ELA-JPEG-V1"
    assert len(image.json()["data"]["heatmap_scores"]) == 32

    with smooth_video.open("rb") as handle:
        video = http.post(
            "/analyze",
            headers=headers,
            files={"media": (smooth_video.name, handle, "video/mp4")},
            data={"model": "TEMPORAL-CONSISTENCY-V1", "mediaId": "m-1", "userId": "u-1"},
        )
    assert video.status_code == 200, video.text
    assert video.json()["data"]["frames_analyzed"] == 60

    rejected = http.post(
        "/analyze",
        headers=headers,
        files={"media": ("clip.mp4", b"not a video")},
        data={"model": "FREQUENCY-SPECTRUM-V1"},
    )
    assert rejected.status_code == 422
    assert rejected.json() == {
        "detail": "Requested model 'FREQUENCY-SPECTRUM-V1' is not active or available."
    }
