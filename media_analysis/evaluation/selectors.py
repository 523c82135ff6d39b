"""Reading what evaluations measured."""

from __future__ import annotations

from collections.abc import Iterable

from media_analysis.evaluation.models import EvaluationStatus, ModelReliability


def reliabilities_latest(
    *, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], ModelReliability]:
    """The latest measured reliability of each (model name, media type) in `keys`, in one query.

    Only finished evaluations that could measure discrimination count: a row without an AUC
    (every item of one class, or no completed analysis) says nothing about how far to trust
    the model, so an older measurement, or none, stands.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    rows = (
        ModelReliability.objects.filter(
            model_name__in={name for name, _ in wanted},
            media_type__in={media_type for _, media_type in wanted},
            evaluation__status=EvaluationStatus.FINISHED,
            auc__isnull=False,
        )
        .order_by("model_name", "media_type", "-created_at")
        .distinct("model_name", "media_type")
    )
    return {
        (row.model_name, row.media_type): row
        for row in rows
        if (row.model_name, row.media_type) in wanted
    }
