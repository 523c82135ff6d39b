"""Liveness and readiness endpoints for load balancers and process supervisors, and the staff
monitoring page."""

from __future__ import annotations

from collections.abc import Callable
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

from drishtiksha.errors import DomainError
from media_analysis.services.runs import runs_reap
from monitoring import presenters
from monitoring.api.serializers import AnalyticsQuerySerializer
from monitoring.readiness import readiness_checks
from monitoring.selectors import (
    analytics_get,
    queue_status_get,
    server_history_list,
    server_status_get,
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
    query = AnalyticsQuerySerializer(data=request.GET)
    if query.is_valid():
        return query.validated_data["days"], ""
    return settings.MONITORING_ANALYTICS_DEFAULT_DAYS, " ".join(
        str(error) for field_errors in query.errors.values() for error in field_errors
    )


@_staff_page
@require_GET
def monitoring_page(request: HttpRequest) -> HttpResponse:
    """Everything fetched here, server-side: the page reads without JavaScript except its charts.

    A part that cannot be fetched (inference server down, broker unreachable) shows its error
    where its figures would be; the rest of the page still renders.
    """
    days, days_error = _analytics_days(request)
    server_status = server_error = None
    try:
        server_status = server_status_get()
    except DomainError as exc:
        server_error = exc.message
    queue_status = queue_error = None
    try:
        queue_status = queue_status_get()
    except DomainError as exc:
        queue_error = exc.message
    history = server_history_list(limit=settings.MONITORING_HISTORY_DEFAULT_LIMIT)
    analytics = analytics_get(days=days)
    context = {
        "latest_health": history[0] if history else None,
        "server_status": server_status,
        "server_error": server_error,
        "models": presenters.loaded_models(server_status.stats) if server_status else [],
        "gauges": presenters.resource_gauges(server_status.stats) if server_status else [],
        "cpu": presenters.cpu_summary(server_status.stats) if server_status else "",
        "system_facts": presenters.system_facts(server_status.stats) if server_status else [],
        "queue_status": queue_status,
        "queue_error": queue_error,
        "analytics": analytics,
        "days": days,
        "days_error": days_error,
        "days_max": settings.MONITORING_ANALYTICS_MAX_DAYS,
        "chart_data": presenters.chart_data(history=history, analytics=analytics),
    }
    return render(request, "monitoring/dashboard.html", context)


@_staff_page
@require_POST
def check_stuck_runs(request: HttpRequest) -> HttpResponse:
    """The page's "Check stuck runs now" button: the same reaper sweep as the API's."""
    result = runs_reap().as_dict()
    summary = ", ".join(f"{len(result[name])} {label}" for name, label in REAPER_LABELS.items())
    messages.success(request, f"Stuck runs checked: {summary}.")
    return redirect("monitoring:page")
