"""The reference inference server's own image and compose service, apart from the platform's.

The server is a distribution of its own (mlserver/): its image holds none of the Django code and
its service none of the platform's settings, database or wait on PostgreSQL. The image's health
check is run as written against a real `python -m mlserver`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from drishtiksha.runner import BASE_DIR
from tests.fixtures.servers import stop_process_group

MLSERVER_DIR = BASE_DIR / "mlserver"
START_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.1
CHECK_TIMEOUT_SECONDS = 30
# Variables the server reads that are not MLSERVER_*: the channel it shares with the relay.
SHARED_SERVER_VARIABLES = {"MEDIA_PROGRESS_CHANNEL_NAME"}


def _instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\s*\\\n\s*", " ", dockerfile)
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _argument(instructions: list[str], keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction, in order."""
    return [line[len(keyword) + 1 :] for line in instructions if line.startswith(f"{keyword} ")]


def _image_environment(instructions: list[str]) -> dict[str, str]:
    pairs = [item.split("=", 1) for line in _argument(instructions, "ENV") for item in line.split()]
    return dict(pairs)


@pytest.fixture(scope="module")
def image() -> list[str]:
    return _instructions((MLSERVER_DIR / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_the_platform_image_carries_no_inference_server():
    platform = _instructions((BASE_DIR / "Dockerfile").read_text())
    assert not [line for line in _argument(platform, "COPY") if "mlserver" in line]
    # `COPY . .` takes the whole tree but what .dockerignore leaves out.
    assert "mlserver/" in (BASE_DIR / ".dockerignore").read_text().split()


def test_the_server_image_is_its_own_distribution_run_unprivileged(image):
    assert _argument(image, "FROM")[0].startswith("python:3.11-slim")
    assert any("ffmpeg" in line for line in _argument(image, "RUN"))
    # Only the distribution is copied, from its own folder as the build context.
    sources = [shlex.split(line)[:-1] for line in _argument(image, "COPY")]
    assert sorted(path for paths in sources for path in paths) == [
        "README.md",
        "pyproject.toml",
        "src",
    ]
    assert _argument(image, "USER") and _argument(image, "USER")[-1] not in {"root", "0"}
    assert json.loads(_argument(image, "CMD")[-1]) == ["python", "-m", "mlserver"]
    environment = _image_environment(image)
    assert environment["MLSERVER_HOST"] == "0.0.0.0"  # noqa: S104 - the container's interfaces
    assert _argument(image, "EXPOSE") == [environment["MLSERVER_PORT"]]


def test_the_compose_service_builds_that_image_without_the_platform_block(compose, image):
    service = compose["services"]["mlserver"]
    assert service["build"] == "./mlserver"
    assert service["image"] != compose["services"]["web"]["image"]
    for inherited in ("env_file", "volumes", "command"):
        assert inherited not in service, inherited
    assert set(service.get("depends_on", {})) <= {"redis"}
    for name in service["environment"]:
        assert name.startswith("MLSERVER_") or name in SHARED_SERVER_VARIABLES, name
    # The platform's default address of the server is this service on the image's port.
    port = service["environment"]["MLSERVER_PORT"]
    assert port == _image_environment(image)["MLSERVER_PORT"]
    platform_url = compose["x-app"]["environment"]["ML_SERVER_URL"]
    assert platform_url.endswith(f"http://mlserver:{port}}}")
    # The health check is the image's, not one repeated here.
    assert "healthcheck" not in service


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_image_health_check_passes_once_the_server_answers_ping(image, tmp_path):
    healthcheck = re.fullmatch(r"--\S+(?: --\S+)* CMD (\[.*\])", _argument(image, "HEALTHCHECK")[0])
    assert healthcheck, "the image has no exec-form HEALTHCHECK CMD"
    command = [
        sys.executable if arg == "python" else arg for arg in json.loads(healthcheck.group(1))
    ]
    port = str(_free_port())
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLSERVER_")},
        **_image_environment(image),
        "MLSERVER_PORT": port,
        "MLSERVER_TEMP_DIR": str(tmp_path / "uploads"),
    }
    before = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=CHECK_TIMEOUT_SECONDS
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "mlserver"],
        cwd=tmp_path,
        # Listening on loopback only; the check still asks as the image would (host 0.0.0.0).
        env={**environment, "MLSERVER_HOST": "127.0.0.1", "MLSERVER_LOG_LEVEL": "warning"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert server.poll() is None, "the server exited during start-up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(POLL_SECONDS)
        after = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=CHECK_TIMEOUT_SECONDS
        )
    finally:
        stop_process_group(server)

    assert after.returncode == 0, after.stderr
    # Run before the server started, the same check failed: it does look at the server.
    assert before.returncode != 0
