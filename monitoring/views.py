"""Liveness and readiness endpoints for load balancers and process supervisors, and the staff
monitoring page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from drishtiksha.errors import ValidationFailed
from media_analysis.pipeline.reaper import runs_reap
from monitoring import presenters
from monitoring.analytics import (
    DAYS_PARAMETER,
    analytics_cache_refresh,
    analytics_cached_get,
    analytics_days_parse,
)
from monitoring.health import server_history_list
from monitoring.readiness import readiness_checks
from monitoring.snapshot import (
    MonitoringSnapshot,
    monitoring_snapshot_get,
    monitoring_snapshot_refresh,
)

# Wording of each of the reaper's counts (`ReapResult` fields).
REAPER_LABELS = {
    "redispatched": "analyses sent again",
    "timed_out": "analyses timed out",
    "finalized_runs": "runs finalized",
    "dispatch_resent": "dispatches sent again",
}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Deliberately touches nothing else."""
    return JsonResponse(
        {
            "statusCode": 200,
            "success": True,
            "message": "Drishtiksha is running",
            "data": {"status": "ok", "timestamp": timezone.now().isoformat()},
        }
    )


@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    checks = readiness_checks()
    failing = [check.name for check in checks if not check.ok]
    status = 503 if failing else 200
    return JsonResponse(
        {
            "statusCode": status,
            "success": not failing,
            "message": f"Not ready: {', '.join(failing)} unreachable" if failing else "Ready",
            "data": {
                "checks": {
                    check.name: {"ok": check.ok, **({"error": check.error} if check.error else {})}
                    for check in checks
                }
            },
        },
        status=status,
    )


# --- The monitoring page (staff only) -------------------------------------------------------------


def _staff_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; signed-in non-admins get the 403 page."""

    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def _analytics_days(request: HttpRequest) -> tuple[int, str]:
    """`?days=` validated like the API's; an invalid value gives the default window and a note."""
    try:
        return analytics_days_parse(raw=request.GET.get(DAYS_PARAMETER)), ""
    except ValidationFailed as error:
        return settings.MONITORING_ANALYTICS_DEFAULT_DAYS, error.message


SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 60 * SECONDS_PER_MINUTE
SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR


@dataclass(frozen=True)
class Age:
    """How long ago a figure was taken: seconds for the page's script, words for the reader."""

    seconds: int

    @property
    def text(self) -> str:
        if self.seconds < SECONDS_PER_MINUTE:
            return f"{self.seconds} s ago"
        if self.seconds < SECONDS_PER_HOUR:
            return f"{self.seconds // SECONDS_PER_MINUTE} min ago"
        if self.seconds < SECONDS_PER_DAY:
            return f"{self.seconds // SECONDS_PER_HOUR} h ago"
        return f"{self.seconds // SECONDS_PER_DAY} d ago"


def age_of(when: datetime, *, now: datetime) -> Age:
    """The page's script keeps the same words up to date while the page stays open."""
    return Age(seconds=max(0, int((now - when).total_seconds())))


def _figures_context(snapshot: MonitoringSnapshot, *, now: datetime) -> dict[str, Any]:
    """The server's and the queues' part of the page, shared with the fragment that refreshes it."""
    stats = snapshot.server_status.stats if snapshot.server_status else None
    return {
        "snapshot": snapshot,
        "server_status": snapshot.server_status,
        "server_error": snapshot.server_error,
        "server_age": age_of(snapshot.server_checked_at, now=now),
        "stale": snapshot.is_stale(now=now),
        "models": presenters.loaded_models(stats) if stats is not None else [],
        "gauges": presenters.resource_gauges(stats) if stats is not None else [],
        "cpu": presenters.cpu_summary(stats) if stats is not None else "",
        "system_facts": presenters.system_facts(stats) if stats is not None else [],
        "queue_status": snapshot.queue_status,
        "queue_error": snapshot.queue_error,
        "queues_age": age_of(snapshot.queues_checked_at, now=now),
    }


@_staff_page
@require_GET
def monitoring_page(request: HttpRequest) -> HttpResponse:
    """The figures the beat health check keeps, server-side: the page reads without JavaScript
    except its charts, and it never waits for the inference server or the workers.

    Each figure says how old it is. Only when nothing was kept yet (a fresh cache, before the
    first check) are the server and the queues asked now, once, to fill it. A part that could
    not be checked (inference server down, broker unreachable) shows its error where its
    figures would be; the rest of the page still renders.
    """
    days, days_error = _analytics_days(request)
    snapshot = monitoring_snapshot_get() or monitoring_snapshot_refresh()
    cached = analytics_cached_get(days=days) or analytics_cache_refresh(days=days)
    history = server_history_list(limit=settings.MONITORING_HISTORY_DEFAULT_LIMIT)
    now = timezone.now()
    context = {
        **_figures_context(snapshot, now=now),
        "latest_health": history[0] if history else None,
        "analytics": cached.analytics,
        "analytics_computed_at": cached.computed_at,
        "analytics_age": age_of(cached.computed_at, now=now),
        "days": days,
        "days_error": days_error,
        "days_max": settings.MONITORING_ANALYTICS_MAX_DAYS,
        "chart_data": presenters.chart_data(history=history, analytics=cached.analytics),
    }
    return render(request, "monitoring/dashboard.html", context)


@_staff_page
@require_GET
def monitoring_figures(request: HttpRequest) -> HttpResponse:
    """The page's server and queue parts, checked now: what the page's "Check now" button and
    its script (when the kept figures are stale) load after the page. Refreshes the kept figures
    too, so that the next page load shows them."""
    snapshot = monitoring_snapshot_refresh()
    return render(
        request, "monitoring/figures.html", _figures_context(snapshot, now=timezone.now())
    )


@_staff_page
@require_POST
def check_stuck_runs(request: HttpRequest) -> HttpResponse:
    """The page's "Check stuck runs now" button: the same reaper sweep as the API's."""
    result = runs_reap().as_dict()
    summary = ", ".join(f"{len(result[name])} {label}" for name, label in REAPER_LABELS.items())
    messages.success(request, f"Stuck runs checked: {summary}.")
    return redirect("monitoring:page")
