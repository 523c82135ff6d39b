"""The test suite's settings (pyproject.toml's DJANGO_SETTINGS_MODULE): development's.

The suite checks what `make run` serves, so it starts from the development settings; whatever a
test needs beyond them (a temporary MEDIA_ROOT, a short Celery inspect timeout, a cheap password
hasher) its fixtures set per test, where the test that depends on it can see it (tests/conftest.py).
DJANGO_ENV does not apply: tests that need production settings start a process with them.
"""

from __future__ import annotations

from .development import *  # noqa: F403
