"""The real server: ``python -m mlserver`` in a subprocess, spoken to over a TCP socket."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_process import PROJECT_DIR, free_port, mlserver_process

API_KEY = "process-test-key"
REQUEST_TIMEOUT_SECONDS = 60.0
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


def django_modules_loaded(prelude: str = "") -> list[str]:
    """Django modules in ``sys.modules`` of a fresh interpreter after importing the server."""
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-c", DJANGO_MODULES_PROBE.format(prelude=prelude)],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.split()


def test_the_server_never_imports_django(tmp_path: Path) -> None:
    # The probe itself must see Django when something does import it: a stand-in package, so
    # that this holds where Django is not installed at all.
    (tmp_path / "django").mkdir()
    (tmp_path / "django" / "__init__.py").write_text("")
    (tmp_path / "django" / "http.py").write_text("")
    stand_in = f"sys.path.insert(0, {str(tmp_path)!r})\nimport django.http"
    assert django_modules_loaded(stand_in) == ["django", "django.http"]
    assert django_modules_loaded() == []


def test_the_suite_runs_without_django() -> None:
    # By now pytest has loaded its plugins, this suite's conftest and every collected module.
    assert not [name for name in sys.modules if name == "django" or name.startswith("django.")]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with mlserver_process(
        MLSERVER_API_KEY=API_KEY,
        MLSERVER_ACTIVE_MODELS="PROVENANCE-METADATA-V1,ELA-JPEG-V1,TEMPORAL-CONSISTENCY-V1",
    ) as (url, _):
        yield url


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


def run_healthcheck(port: int) -> subprocess.CompletedProcess:
    """The image's HEALTHCHECK command, for a server configured to listen on every interface."""
    # The check only reads the address (and asks loopback); nothing binds it.
    environment = {**os.environ, "MLSERVER_HOST": "0.0.0.0", "MLSERVER_PORT": str(port)}  # noqa: S104
    return subprocess.run(
        [sys.executable, "-m", "mlserver.healthcheck"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=False,
    )


def test_healthcheck_passes_while_the_server_answers_ping(server_url: str) -> None:
    checked = run_healthcheck(httpx.URL(server_url).port)
    assert checked.returncode == 0, checked.stderr


def test_healthcheck_fails_when_nothing_listens() -> None:
    checked = run_healthcheck(free_port())
    assert checked.returncode == 1
    assert "/ping" in checked.stderr
