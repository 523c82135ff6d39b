"""The image's build step: `collectstatic` with production's hashed, compressed storage.

The Dockerfile runs exactly this; a vendored file that points at a missing source map (or any
other missing reference) makes the manifest storage fail, and with it the image build.
"""

from __future__ import annotations

import json

from tests.deploy.test_production_settings import PRODUCTION_ENV, _manage


def test_collectstatic_succeeds_with_the_production_storage(tmp_path):
    result = _manage(
        "collectstatic", "--noinput", env={**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path)}
    )

    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    hashed = manifest["vendor/chartjs/chart.umd.min.js"]
    assert hashed != "vendor/chartjs/chart.umd.min.js"
    assert (tmp_path / hashed).is_file()
    assert (tmp_path / f"{hashed}.gz").is_file()
