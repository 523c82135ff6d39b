"""Loading a run for its report: access rules and query shape in one place."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch

from accounts.models import User
from drishtiksha.errors import NotFound
from media_analysis.models import AnalysisRun, DeepfakeAnalysis


def run_get_for_report(*, user: User, run_id: uuid.UUID | str) -> AnalysisRun:
    """A run with its media and its analyses (by model name), if `user` may read it.

    Owners read their own runs and staff read any. Someone else's run, an unknown id and a
    malformed id all answer the same "not found", so the answer reveals nothing about which runs
    exist. Costs two queries whatever the number of analyses.
    """
    if not getattr(user, "is_authenticated", False):
        raise NotFound("Run not found.")
    try:
        pk = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    except ValueError as exc:
        raise NotFound("Run not found.") from exc
    queryset = (
        AnalysisRun.objects.filter(pk=pk)
        .select_related("media")
        .prefetch_related(
            Prefetch("analyses", queryset=DeepfakeAnalysis.objects.order_by("model_name"))
        )
    )
    if not user.is_staff:
        queryset = queryset.filter(media__owner=user)
    run = queryset.first()
    if run is None:
        raise NotFound("Run not found.")
    return run
