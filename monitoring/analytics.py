"""Analytics over recent calendar days: per-model figures, the slowest and fastest analyses,
uploads per day and the verdicts, plus the copy the beat check keeps for the monitoring page.

Computed from the promoted columns only (never the result payloads), in a fixed number of queries
whatever the row counts.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from drishtiksha.errors import ValidationFailed
from media_analysis.choices import AnalysisStatus, MediaType, Verdict
from media_analysis.models import DeepfakeAnalysis, Media
from monitoring.windows import CACHED_FIGURES_VERSION, kept_figures_max_age_seconds

# The 95th percentile, by its definition.
P95 = 0.95
NO_VERDICT_LABEL = "No verdict yet"
# The query parameter naming the window, in the API and on the monitoring page.
DAYS_PARAMETER = "days"
ANALYTICS_DAYS_MIN = 1
# "7.0" is 7, as it always was for the API: a whole number written with a zero fraction.
ZERO_FRACTION = re.compile(r"\.0*\s*$")


# --- The window -----------------------------------------------------------------------------------


def _days_refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={DAYS_PARAMETER: message})


def analytics_days_parse(*, raw: str | None) -> int:
    """The `days` of an analytics query (the API's and the monitoring page's): whole calendar
    days, today included, from ANALYTICS_DAYS_MIN to MONITORING_ANALYTICS_MAX_DAYS, and
    MONITORING_ANALYTICS_DEFAULT_DAYS when absent or blank. Raises `ValidationFailed` naming
    the `days` field otherwise."""
    if raw is None or raw == "":
        return settings.MONITORING_ANALYTICS_DEFAULT_DAYS
    try:
        days = int(ZERO_FRACTION.sub("", raw))
    except ValueError:
        raise _days_refused("A valid integer is required.") from None
    if days < ANALYTICS_DAYS_MIN:
        raise _days_refused(f"Ensure this value is greater than or equal to {ANALYTICS_DAYS_MIN}.")
    maximum = settings.MONITORING_ANALYTICS_MAX_DAYS
    if days > maximum:
        raise _days_refused(f"Ensure this value is less than or equal to {maximum}.")
    return days


def analytics_window_start(*, days: int, now: datetime | None = None) -> datetime:
    """Midnight (current time zone) `days - 1` days before today: `days` whole calendar days."""
    today = timezone.localdate(now or timezone.now())
    first_day = today - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first_day, datetime.min.time()))


# --- Percentiles ----------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        # A float from our own code, formatted here: never user input.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """The same percentile as PostgreSQL's `percentile_cont`: linear interpolation between the
    two values whose ranks surround `fraction * (n - 1)`; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


# --- The figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAnalytics:
    model_name: str
    count: int
    completed: int
    failed: int
    failure_rate: float | None
    processing_time_avg: float | None
    processing_time_min: float | None
    processing_time_max: float | None
    processing_time_p95: float | None
    confidence_by_media_type: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysisTiming:
    analysis_id: uuid.UUID
    run_id: uuid.UUID
    media_id: uuid.UUID
    model_name: str
    media_filename: str
    media_type: str | None
    processing_time: float


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class VerdictCount:
    verdict: str | None
    label: str
    count: int


@dataclass(frozen=True)
class Analytics:
    days: int
    since: datetime
    models: list[ModelAnalytics]
    slowest: list[AnalysisTiming]
    fastest: list[AnalysisTiming]
    uploads_per_day: list[DayCount]
    verdicts: list[VerdictCount]


def _processing_p95_in_python(completed: QuerySet[DeepfakeAnalysis]) -> dict[str, float | None]:
    """Without PostgreSQL's `percentile_cont` (SQLite): one query for the window's processing
    times (two floats and a name per row, never a payload), the percentile computed here."""
    times: dict[str, list[float]] = defaultdict(list)
    for model_name, seconds in completed.filter(processing_time__isnull=False).values_list(
        "model_name", "processing_time"
    ):
        times[model_name].append(seconds)
    return {model_name: percentile_cont(values, P95) for model_name, values in times.items()}


def _model_analytics(analyses: QuerySet[DeepfakeAnalysis]) -> list[ModelAnalytics]:
    """Per-model figures over `analyses`: two queries on PostgreSQL, three elsewhere."""
    is_completed = Q(status=AnalysisStatus.COMPLETED)
    on_postgresql = connection.vendor == "postgresql"
    aggregates: dict[str, Any] = {
        "count": Count("pk"),
        "completed": Count("pk", filter=is_completed),
        "failed": Count("pk", filter=Q(status=AnalysisStatus.FAILED)),
        "time_avg": Avg("processing_time", filter=is_completed),
        "time_min": Min("processing_time", filter=is_completed),
        "time_max": Max("processing_time", filter=is_completed),
    }
    if on_postgresql:
        aggregates["time_p95"] = PercentileCont(
            "processing_time", fraction=P95, filter=is_completed
        )
    rows = list(analyses.values("model_name").annotate(**aggregates).order_by("model_name"))
    completed = analyses.filter(is_completed)
    p95 = (
        {row["model_name"]: row["time_p95"] for row in rows}
        if on_postgresql
        else _processing_p95_in_python(completed)
    )
    confidence: dict[str, dict[str, float]] = defaultdict(dict)
    for row in (
        completed.values("model_name", "media_type")
        .annotate(average=Avg("confidence"))
        .order_by("model_name", "media_type")
    ):
        if row["average"] is not None:
            media_type = row["media_type"] or MediaType.UNKNOWN
            confidence[row["model_name"]][str(media_type)] = row["average"]
    results = []
    for row in rows:
        finished = row["completed"] + row["failed"]
        results.append(
            ModelAnalytics(
                model_name=row["model_name"],
                count=row["count"],
                completed=row["completed"],
                failed=row["failed"],
                failure_rate=row["failed"] / finished if finished else None,
                processing_time_avg=row["time_avg"],
                processing_time_min=row["time_min"],
                processing_time_max=row["time_max"],
                processing_time_p95=p95.get(row["model_name"]),
                confidence_by_media_type=confidence.get(row["model_name"], {}),
            )
        )
    return results


def _timings(analyses: QuerySet[DeepfakeAnalysis], *, slowest: bool) -> list[AnalysisTiming]:
    order = ("-processing_time", "pk") if slowest else ("processing_time", "pk")
    rows = (
        analyses.filter(status=AnalysisStatus.COMPLETED, processing_time__isnull=False)
        .order_by(*order)
        .values(
            "pk",
            "run_id",
            "run__media_id",
            "model_name",
            "run__media__original_filename",
            "media_type",
            "processing_time",
        )[: settings.MONITORING_ANALYTICS_TOP_COUNT]
    )
    return [
        AnalysisTiming(
            analysis_id=row["pk"],
            run_id=row["run_id"],
            media_id=row["run__media_id"],
            model_name=row["model_name"],
            media_filename=row["run__media__original_filename"],
            media_type=row["media_type"],
            processing_time=row["processing_time"],
        )
        for row in rows
    ]


def _uploads_per_day(*, since: datetime, days: int) -> list[DayCount]:
    counted = {
        row["day"]: row["count"]
        for row in Media.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(count=Count("pk"))
        .order_by("day")
    }
    first_day = timezone.localdate(since)
    # Every day of the window, zeros included, so that a chart's axis has no gaps.
    return [
        DayCount(day=day, count=counted.get(day, 0))
        for day in (first_day + timedelta(days=offset) for offset in range(days))
    ]


def _verdict_distribution(*, since: datetime) -> list[VerdictCount]:
    """Verdicts of each media item's latest run, for runs started within the window."""
    counted = {
        row["latest_run__verdict"]: row["count"]
        for row in Media.objects.filter(latest_run__created_at__gte=since)
        .values("latest_run__verdict")
        .annotate(count=Count("pk"))
        .order_by()
    }
    return [
        *(
            VerdictCount(verdict=verdict.value, label=verdict.label, count=counted.get(verdict, 0))
            for verdict in Verdict
        ),
        VerdictCount(verdict=None, label=NO_VERDICT_LABEL, count=counted.get(None, 0)),
    ]


def analytics_get(*, days: int) -> Analytics:
    """Figures over the last `days` calendar days, from the promoted columns only (never the
    result payloads): six queries on PostgreSQL, seven elsewhere, whatever the row counts."""
    since = analytics_window_start(days=days)
    analyses = DeepfakeAnalysis.objects.filter(created_at__gte=since)
    return Analytics(
        days=days,
        since=since,
        models=_model_analytics(analyses),
        slowest=_timings(analyses, slowest=True),
        fastest=_timings(analyses, slowest=False),
        uploads_per_day=_uploads_per_day(since=since, days=days),
        verdicts=_verdict_distribution(since=since),
    )


# --- The copy kept for the monitoring page --------------------------------------------------------


@dataclass(frozen=True)
class CachedAnalytics:
    analytics: Analytics
    computed_at: datetime


def analytics_cache_key(*, days: int) -> str:
    return f"monitoring:analytics:{CACHED_FIGURES_VERSION}:{days}"


def analytics_cached_get(*, days: int) -> CachedAnalytics | None:
    """The analytics of the last `days` as computed at most HEALTH_CHECK_INTERVAL ago, or None."""
    return cache.get(analytics_cache_key(days=days))


def analytics_cache_refresh(*, days: int) -> CachedAnalytics:
    """Compute the analytics of the last `days` now and keep them until they would be stale (the
    beat check recomputes the default window every interval). Cost: `analytics_get`'s six
    queries over the window's rows."""
    cached = CachedAnalytics(analytics=analytics_get(days=days), computed_at=timezone.now())
    cache.set(analytics_cache_key(days=days), cached, timeout=kept_figures_max_age_seconds())
    return cached
