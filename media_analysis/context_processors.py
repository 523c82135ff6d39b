"""The vocabulary (media types and statuses) for every template, so that a page compares
`run.status == RunStatus.QUEUED` instead of spelling the value out a second time."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus


def vocabulary(request: HttpRequest) -> dict[str, Any]:
    # TextChoices are never called by the template engine (`do_not_call_in_templates`).
    return {"MediaType": MediaType, "RunStatus": RunStatus, "AnalysisStatus": AnalysisStatus}
