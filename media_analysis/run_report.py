"""What the run report page shows: to its owner, with the share section, and through a link."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from media_analysis import chart_data
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.explanations import verdict_explanation
from media_analysis.models import AnalysisRun, ShareLink
from media_analysis.services.sharing import (
    share_link_expiry_choices,
    share_link_list_for_run,
    share_link_status,
)


def run_report_context(*, run: Any) -> dict[str, Any]:
    """What the run report shows, to its owner and (read-only) through a share link."""
    analyses = list(run.analyses.all())
    return {
        "run": run,
        "media": run.media,
        "analyses": analyses,
        "completed": [a for a in analyses if a.status == AnalysisStatus.COMPLETED],
        "abstained": [a for a in analyses if a.status == AnalysisStatus.ABSTAINED],
        "failed": [a for a in analyses if a.status == AnalysisStatus.FAILED],
        "is_active": run.status in RunStatus.active(),
        "explanation": verdict_explanation(run=run, analyses=analyses),
        "charts": chart_data.run_chart_data(run=run),
    }


def share_section_context(
    *, run: AnalysisRun, new_url: str = "", new_link: ShareLink | None = None
) -> dict[str, Any]:
    """The owner's share section: the run's links with their state, and a just-made link."""
    links = share_link_list_for_run(run=run)
    return {
        "share_links": [(link, share_link_status(link)) for link in links],
        "share_expiry_choices": share_link_expiry_choices(),
        "share_default_days": settings.SHARE_LINK_DEFAULT_DAYS,
        "share_new_url": new_url,
        "share_new_link": new_link,
    }
