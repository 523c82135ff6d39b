"""The web process imports what its requests need at start and freezes it out of the garbage
collector, so that no request pays for a full collection over Django's start-up objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

PROBE = (
    "import gc, json, sys; import drishtiksha.asgi; from django.urls import get_resolver; "
    "print(json.dumps({'frozen': gc.get_freeze_count(), "
    "'reverse_built': get_resolver()._populated, "
    "'views': 'media_analysis.views' in sys.modules, "
    "'api': 'media_analysis.api.views' in sys.modules}))"
)


def test_the_asgi_application_starts_with_its_views_imported_its_urls_indexed_and_frozen():
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "drishtiksha.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    state = json.loads(completed.stdout.strip().splitlines()[-1])

    assert state["views"] and state["api"]
    # The first request that names a URL would otherwise build the reverse lookup tables.
    assert state["reverse_built"]
    # Django, DRF, Channels and the apps: well over a hundred thousand objects.
    assert state["frozen"] > 100_000
