"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.media_files",
    "tests.fixtures.accounts",
    "tests.fixtures.pipeline",
    "tests.fixtures.console",
]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    """Every test writes stored files into its own temporary directory."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    return settings.MEDIA_ROOT


# The tests that count workers set their own; without a worker, every queue-status (the API, the
# monitoring page's refresh) waits this long for replies that never come.
NO_WORKER_INSPECT_SECONDS = 0.1


@pytest.fixture(autouse=True)
def _quick_inspect(settings):
    """Celery's inspect broadcast waits its whole timeout when no worker answers."""
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = NO_WORKER_INSPECT_SECONDS
