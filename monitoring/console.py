"""The figures on the operator console's index page (the admin's front page)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from monitoring.analytics import analytics_window_start
from monitoring.health import server_health_latest
from monitoring.models import ServerHealth
from monitoring.windows import recent_window_start


@dataclass(frozen=True)
class ConsoleSummary:
    uploads_today: int
    runs_in_progress: int
    finished_recent: int
    failed_recent: int
    window_hours: int
    latest_health: ServerHealth | None

    @property
    def failure_rate(self) -> float | None:
        return self.failed_recent / self.finished_recent if self.finished_recent else None


def console_summary_get() -> ConsoleSummary:
    """The figures an operator sees first (four queries): uploads since midnight, runs queued or
    processing, the share of analyses that failed in the recent window, the server's last check."""
    today_start = analytics_window_start(days=1)
    recent = DeepfakeAnalysis.objects.filter(
        finished_at__gte=recent_window_start(), status__in=AnalysisStatus.final()
    ).aggregate(finished=Count("pk"), failed=Count("pk", filter=Q(status=AnalysisStatus.FAILED)))
    return ConsoleSummary(
        uploads_today=Media.objects.filter(created_at__gte=today_start).count(),
        runs_in_progress=AnalysisRun.objects.filter(status__in=RunStatus.active()).count(),
        finished_recent=recent["finished"],
        failed_recent=recent["failed"],
        window_hours=settings.MONITORING_RECENT_WINDOW_HOURS,
        latest_health=server_health_latest(),
    )
