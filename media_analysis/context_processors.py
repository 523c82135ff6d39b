"""Context for every template: the vocabulary (media types and statuses), so that a page compares
`run.status == RunStatus.QUEUED` instead of spelling the value out a second time, and what the run
notifier of base.html needs."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from accounts.ws_tickets import PROGRESS_WEBSOCKET_PATH
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus

# Stands for the id in the page addresses handed to the script, which puts each run's id there.
_ID_PLACEHOLDER = uuid.UUID(int=0)


def vocabulary(request: HttpRequest) -> dict[str, Any]:
    # TextChoices are never called by the template engine (`do_not_call_in_templates`).
    return {"MediaType": MediaType, "RunStatus": RunStatus, "AnalysisStatus": AnalysisStatus}


def progress_notifier(request: HttpRequest) -> dict[str, Any]:
    """What base.html needs to tell a logged-in user, on any page, that a run finished: the
    progress websocket's path (None for visitors: the socket would refuse them), the addresses of
    a run's and a media item's pages, and how long a seen toast stays."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"progress_notifier": None}
    return {
        "progress_notifier": {
            "socket_path": PROGRESS_WEBSOCKET_PATH,
            "id_placeholder": str(_ID_PLACEHOLDER),
            "run_url": reverse("media:run", kwargs={"run_id": _ID_PLACEHOLDER}),
            "media_url": reverse("media:detail", kwargs={"media_id": _ID_PLACEHOLDER}),
            "toast_seconds": settings.NOTIFICATION_TOAST_SECONDS,
        }
    }
