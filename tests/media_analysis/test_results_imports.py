"""The pages read and format results without the PDF machinery: loading them pulls in no ReportLab.

A fresh interpreter is needed because this test session has long imported the PDF module.
"""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

PAGE_SIDE_MODULES = (
    "media_analysis.results",
    "media_analysis.pages",
    "media_analysis.chart_data",
    "media_analysis.templatetags.media_pages",
)

PROBE = """
import importlib, sys
import django
django.setup()
for name in sys.argv[1:]:
    importlib.import_module(name)
print(sorted(name for name in sys.modules if name.split(".")[0] == "reportlab"))
"""


def _reportlab_modules_after_importing(*modules: str) -> str:
    """The ReportLab modules a fresh interpreter holds after `django.setup()` and `modules`."""
    # pytest-django has put the test settings in DJANGO_SETTINGS_MODULE; the child inherits it.
    assert os.environ.get("DJANGO_SETTINGS_MODULE")
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def test_page_side_modules_load_without_reportlab():
    assert _reportlab_modules_after_importing(*PAGE_SIDE_MODULES) == "[]"


def test_the_probe_sees_reportlab_once_the_pdf_module_is_loaded():
    assert "reportlab" in _reportlab_modules_after_importing("media_analysis.reports.pdf")
