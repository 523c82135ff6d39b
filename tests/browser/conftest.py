"""Fixtures for browser tests: the real ASGI app served by uvicorn, and headless Chromium.

- `asgi_server`: uvicorn (HTTP + websockets, as `make run` serves) in a subprocess on a free
  port, pointed at the test database, the test Redis, this test's media folder and the fake
  inference server. Use with `django_db(transaction=True)` and a worker (`pipeline_worker`).
- `browser_page`: a Playwright page in Debian's Chromium that records console errors and
  uncaught exceptions; the test asserts there were none.
- `screenshot(page, name)`: saves `test-artifacts/screenshots/<name>.png`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.fakes.inference_server import FakeInferenceServer, FakeModel
from tests.fixtures.pipeline import FAST_PIPELINE_ENV, _test_database_url
from tests.fixtures.servers import uvicorn_serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
# Browser actions wait this long for the page; analyses of the fake server take a few seconds.
PAGE_TIMEOUT_MS = 30_000


# The fake models answer after these delays, so that a page opened right after the upload sees
# the run in progress and then finish; the read timeout leaves them room.
MODEL_DELAYS_SECONDS = (1.5, 2.5)
ML_READ_TIMEOUT_SECONDS = 10


@pytest.fixture
def browser_inference(fake_inference_factory, fast_pipeline) -> FakeInferenceServer:
    """Two video models that disagree (FAKE 0.9, REAL 0.7) and take a moment to answer."""
    fast_pipeline.ML_READ_TIMEOUT_SECONDS = ML_READ_TIMEOUT_SECONDS
    first, second = MODEL_DELAYS_SECONDS
    return fake_inference_factory(
        [
            FakeModel("SIGLIP-LSTM-V4", video=True, prediction="FAKE", confidence=0.9, delay=first),
            FakeModel(
                "COLOR-CUES-LSTM-V1", video=True, prediction="REAL", confidence=0.7, delay=second
            ),
        ]
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def asgi_server(transactional_db, fast_pipeline, browser_inference) -> Iterator[str]:
    """The base URL of uvicorn serving `drishtiksha.asgi:application` from the test database."""
    port = _free_port()
    env = {
        **os.environ,
        **FAST_PIPELINE_ENV,
        "DJANGO_ENV": "development",
        "DATABASE_URL": _test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": fast_pipeline.REDIS_URL,
        "ML_SERVER_URL": fast_pipeline.ML_SERVER_URL,
        "ML_SERVER_API_KEY": fast_pipeline.ML_SERVER_API_KEY,
        "MEDIA_ROOT": str(fast_pipeline.MEDIA_ROOT),
        # Every run signs up from 127.0.0.1; the hourly limit must not fail the tenth run.
        "API_SIGNUP_THROTTLE_RATE": "1000/minute",
    }
    with uvicorn_serving(env=env, port=port) as url:
        yield url


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions seen by a page, in order."""

    messages: list[str] = field(default_factory=list)

    def record_console(self, message: Any) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text} ({message.location.get('url')})")

    def record_exception(self, error: Any) -> None:
        self.messages.append(f"pageerror: {error}")


@pytest.fixture
def browser_page() -> Iterator[tuple[Any, PageProblems]]:
    from playwright.sync_api import sync_playwright

    problems = PageProblems()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Reduced motion: charts draw at once (no animation), so screenshots show final values.
        context = browser.new_context(
            viewport=VIEWPORT, accept_downloads=True, reduced_motion="reduce"
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        page.on("console", problems.record_console)
        page.on("pageerror", problems.record_exception)
        try:
            yield page, problems
        finally:
            context.close()
            browser.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
