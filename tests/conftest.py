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
