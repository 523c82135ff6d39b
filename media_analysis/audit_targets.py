"""The audit trail's links to media, runs and share links (see `audit.targets`)."""

from __future__ import annotations

from audit.models import AuditEvent
from audit.targets import audit_target_kind_register, audit_target_pointer_register
from media_analysis.models import AnalysisRun, Media, ShareLink


def _run_shared(event: AuditEvent) -> tuple[str, str]:
    """A share link has no page of its own: its events lead to the run it shares."""
    return AnalysisRun._meta.model_name, str((event.details or {}).get("run_id") or "")


def audit_targets_register() -> None:
    audit_target_kind_register(
        kind=Media._meta.model_name,
        route="media:detail",
        owned_ids=lambda viewer, ids: Media.objects.filter(owner=viewer, pk__in=ids).values_list(
            "pk", flat=True
        ),
    )
    audit_target_kind_register(
        kind=AnalysisRun._meta.model_name,
        route="media:run",
        owned_ids=lambda viewer, ids: AnalysisRun.objects.filter(
            media__owner=viewer, pk__in=ids
        ).values_list("pk", flat=True),
    )
    audit_target_pointer_register(kind=ShareLink._meta.model_name, pointer=_run_shared)
