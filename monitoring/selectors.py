"""Reads for the operator console: the inference server, the queues, status checks, analytics.

Everything here is for staff. Each selector costs a fixed number of queries, whatever the size of
the tables, so the monitoring page and API stay cheap to poll.
"""

from __future__ import annotations

import enum
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from drishtiksha.celery import app as celery_app
from drishtiksha.errors import GatewayTimeout, ServiceUnavailable
from media_analysis import ml_client
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.discovery import stats_cache_key
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.services.runs import ANSWERED_ANALYSIS_STATUSES, OPEN_ANALYSIS_STATUSES
from monitoring.models import ServerHealth

# The 95th percentile, by its definition.
P95 = 0.95
MILLISECONDS_PER_SECOND = 1000


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a `time.monotonic()` reading)."""
    return round((time.monotonic() - started) * MILLISECONDS_PER_SECOND)


# --- The inference server -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerStatus:
    """One `/stats` answer, how long it took, and when it was fetched (it may be cached)."""

    stats: dict[str, Any]
    response_time_ms: int
    cached_at: datetime


def _server_status_cache_key() -> str:
    # Beside discovery's own key, per server URL, so that a new URL never serves the old answer.
    return f"{stats_cache_key()}:monitoring"


def server_status_get() -> ServerStatus:
    """The inference server's `/stats`, asked now or at most MONITORING_STATUS_CACHE_SECONDS ago.

    Deliberately not discovery's cache, which may be a minute old: an operator asking whether the
    server is up wants the answer of now. The short cache only absorbs reloads of the page.
    Raises `GatewayTimeout` when the server did not answer in time and `ServiceUnavailable` when
    it refused, could not be reached, or answered with an error.
    """
    ttl = settings.MONITORING_STATUS_CACHE_SECONDS
    if ttl > 0:
        cached = cache.get(_server_status_cache_key())
        if cached is not None:
            return cached
    started = time.monotonic()
    try:
        stats = ml_client.stats_fetch()
    except ml_client.InferenceTimeoutError as exc:
        raise GatewayTimeout(exc.message) from exc
    except ml_client.InferenceError as exc:
        raise ServiceUnavailable(exc.message) from exc
    status = ServerStatus(
        stats=stats, response_time_ms=elapsed_ms(started), cached_at=timezone.now()
    )
    if ttl > 0:
        cache.set(_server_status_cache_key(), status, timeout=ttl)
    return status


def server_history_list(*, limit: int) -> list[ServerHealth]:
    """The newest `limit` health checks, newest first."""
    return list(ServerHealth.objects.order_by("-checked_at", "-pk")[:limit])


def server_health_latest() -> ServerHealth | None:
    return ServerHealth.objects.order_by("-checked_at", "-pk").first()


# --- Queues ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    name: str
    pending_jobs: int
    active_jobs: int
    delayed_jobs: int


@dataclass(frozen=True)
class QueueStatus:
    """Jobs waiting in the broker, held by workers, and finished recently.

    `active_jobs` and `delayed_jobs` come from the workers themselves: with no worker online they
    are 0 and `workers_online` says why.
    """

    pending_jobs: int
    active_jobs: int
    delayed_jobs: int
    completed_jobs: int
    failed_jobs: int
    workers_online: int
    workers: list[str]
    queues: list[QueueCounts]
    window_hours: int


def _monitored_queues() -> list[str]:
    return [settings.ANALYSIS_QUEUE, settings.HOUSEKEEPING_QUEUE]


def _broker_queue_lengths(queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each queue.

    On the Redis broker a queue is a list named after it; messages without a priority (all of
    ours) are in that list, so its length is what is waiting.
    """
    timeout = settings.REDIS_HEALTH_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        pipeline = client.pipeline(transaction=False)
        for queue in queues:
            pipeline.llen(queue)
        lengths = pipeline.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("The message broker cannot be reached.") from exc
    finally:
        client.close()
    return dict(zip(queues, lengths, strict=True))


def _queue_of(task: dict[str, Any]) -> str:
    """The queue a task reported by `inspect` came from (direct routing: its routing key)."""
    request = task.get("request", task)  # `scheduled()` wraps the task in {"eta", "request"}
    return str((request.get("delivery_info") or {}).get("routing_key") or "")


def _count_by_queue(replies: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for tasks in replies.values():
        for task in tasks:
            counts[_queue_of(task)] += 1
    return counts


def _worker_snapshot() -> tuple[dict[str, list], dict[str, list], dict[str, list]]:
    """(active, scheduled, reserved) tasks per worker; empty when no worker answers.

    The first broadcast waits the whole timeout; once the workers are known, the next two return
    as soon as every one of them has answered.
    """
    timeout = settings.MONITORING_INSPECT_TIMEOUT_SECONDS
    active = celery_app.control.inspect(timeout=timeout).active() or {}
    if not active:
        return {}, {}, {}
    inspector = celery_app.control.inspect(timeout=timeout, limit=len(active))
    return active, inspector.scheduled() or {}, inspector.reserved() or {}


def recent_window_start(*, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=settings.MONITORING_RECENT_WINDOW_HOURS)


def queue_status_get() -> QueueStatus:
    """Pending jobs from the broker, active and delayed ones from the workers, and the analyses
    finished within MONITORING_RECENT_WINDOW_HOURS from the database.

    Delayed means held by a worker but not started: scheduled for later (a retry's countdown) or
    reserved (prefetched). Raises `ServiceUnavailable` when the broker cannot be reached.
    """
    queues = _monitored_queues()
    pending = _broker_queue_lengths(queues)
    active, scheduled, reserved = _worker_snapshot()
    active_by_queue = _count_by_queue(active)
    delayed_by_queue = _count_by_queue(scheduled)
    for name, count in _count_by_queue(reserved).items():
        delayed_by_queue[name] += count
    finished = DeepfakeAnalysis.objects.filter(finished_at__gte=recent_window_start()).aggregate(
        # A job that ended in "no evidence" did its work: completed, not failed.
        completed=Count("pk", filter=Q(status__in=ANSWERED_ANALYSIS_STATUSES)),
        failed=Count("pk", filter=Q(status=AnalysisStatus.FAILED)),
    )
    return QueueStatus(
        pending_jobs=sum(pending.values()),
        active_jobs=sum(active_by_queue.values()),
        delayed_jobs=sum(delayed_by_queue.values()),
        completed_jobs=finished["completed"],
        failed_jobs=finished["failed"],
        workers_online=len(active),
        workers=sorted(active),
        queues=[
            QueueCounts(
                name=name,
                pending_jobs=pending[name],
                active_jobs=active_by_queue.get(name, 0),
                delayed_jobs=delayed_by_queue.get(name, 0),
            )
            for name in queues
        ],
        window_hours=settings.MONITORING_RECENT_WINDOW_HOURS,
    )


# --- Status consistency ---------------------------------------------------------------------------


class InconsistencyKind(enum.StrEnum):
    RUN_FINAL_WITH_OPEN_ANALYSES = "RUN_FINAL_WITH_OPEN_ANALYSES"
    RUN_OPEN_WITH_FINAL_ANALYSES = "RUN_OPEN_WITH_FINAL_ANALYSES"
    RUN_STATUS_MISMATCH = "RUN_STATUS_MISMATCH"
    MEDIA_STATUS_MISMATCH = "MEDIA_STATUS_MISMATCH"


INCONSISTENCY_DESCRIPTIONS = {
    InconsistencyKind.RUN_FINAL_WITH_OPEN_ANALYSES: (
        "The run is final but some of its analyses are still pending or processing."
    ),
    InconsistencyKind.RUN_OPEN_WITH_FINAL_ANALYSES: (
        "The run is still open although every one of its analyses is final."
    ),
    InconsistencyKind.RUN_STATUS_MISMATCH: (
        "The run's status does not match how many of its analyses answered or failed."
    ),
    InconsistencyKind.MEDIA_STATUS_MISMATCH: (
        "The media's status differs from the status of its latest run."
    ),
}


@dataclass(frozen=True)
class StatusInconsistency:
    kind: InconsistencyKind
    media_id: uuid.UUID
    media_filename: str
    run_id: uuid.UUID | None
    run_number: int | None
    stored_status: str
    expected_status: str

    @property
    def description(self) -> str:
        return INCONSISTENCY_DESCRIPTIONS[self.kind]


def _status_from_counts() -> Case:
    """The status `run_finalize` gives a run with these counts (all analyses final); an
    abstention ("no evidence") is an answer, as there."""
    return Case(
        When(answered_count=F("analyses_count"), then=Value(RunStatus.ANALYZED)),
        When(answered_count__gt=0, then=Value(RunStatus.PARTIALLY_ANALYZED)),
        default=Value(RunStatus.FAILED),
        output_field=CharField(),
    )


def run_inconsistencies_list() -> list[StatusInconsistency]:
    """Runs whose status disagrees with their analyses, in one query.

    A final run without any analysis is left out: the pipeline closes a run as FAILED without
    analyses only when no model could analyse the media, and there is nothing to recompute it from.
    """
    final, active = RunStatus.final(), RunStatus.active()
    runs = (
        AnalysisRun.objects.annotate(
            analyses_count=Count("analyses"),
            open_count=Count("analyses", filter=Q(analyses__status__in=OPEN_ANALYSIS_STATUSES)),
            answered_count=Count(
                "analyses", filter=Q(analyses__status__in=ANSWERED_ANALYSIS_STATUSES)
            ),
        )
        .annotate(expected_status=_status_from_counts())
        .filter(
            Q(status__in=final, open_count__gt=0)
            | Q(status__in=active, analyses_count__gt=0, open_count=0)
            | (
                Q(status__in=final, analyses_count__gt=0, open_count=0)
                & ~Q(status=F("expected_status"))
            )
        )
        .select_related("media")
        .only("id", "run_number", "status", "media__id", "media__original_filename")
        .order_by("created_at", "pk")
    )
    found = []
    for run in runs:
        if run.status in final and run.open_count:
            kind, expected = InconsistencyKind.RUN_FINAL_WITH_OPEN_ANALYSES, RunStatus.PROCESSING
        elif run.status in active:
            kind, expected = InconsistencyKind.RUN_OPEN_WITH_FINAL_ANALYSES, run.expected_status
        else:
            kind, expected = InconsistencyKind.RUN_STATUS_MISMATCH, run.expected_status
        found.append(
            StatusInconsistency(
                kind=kind,
                media_id=run.media.pk,
                media_filename=run.media.original_filename,
                run_id=run.pk,
                run_number=run.run_number,
                stored_status=run.status,
                expected_status=str(expected),
            )
        )
    return found


def media_inconsistencies_list() -> list[StatusInconsistency]:
    """Media whose status differs from their latest run's, in one query."""
    media = (
        Media.objects.filter(latest_run__isnull=False)
        .exclude(status=F("latest_run__status"))
        .select_related("latest_run")
        .only(
            "id",
            "original_filename",
            "status",
            "latest_run__id",
            "latest_run__run_number",
            "latest_run__status",
        )
        .order_by("created_at", "pk")
    )
    return [
        StatusInconsistency(
            kind=InconsistencyKind.MEDIA_STATUS_MISMATCH,
            media_id=item.pk,
            media_filename=item.original_filename,
            run_id=item.latest_run.pk,
            run_number=item.latest_run.run_number,
            stored_status=item.status,
            expected_status=item.latest_run.status,
        )
        for item in media
    ]


def status_inconsistencies_list() -> list[StatusInconsistency]:
    """Every run and media whose stored status disagrees with what it is made of (two queries)."""
    return [*run_inconsistencies_list(), *media_inconsistencies_list()]


# --- Analytics ------------------------------------------------------------------------------------


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


NO_VERDICT_LABEL = "No verdict yet"


def analytics_window_start(*, days: int, now: datetime | None = None) -> datetime:
    """Midnight (current time zone) `days - 1` days before today: `days` whole calendar days."""
    today = timezone.localdate(now or timezone.now())
    first_day = today - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first_day, datetime.min.time()))


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


# --- The monitoring page's cached figures ---------------------------------------------------------

# A check is sent every HEALTH_CHECK_INTERVAL and expires unstarted after one more interval, so
# figures older than this many intervals mean the periodic checks are not running.
STALE_AFTER_CHECK_INTERVALS = 2


@dataclass(frozen=True)
class MonitoringSnapshot:
    """The inference server's `/stats` and the queues as last checked, each with its time.

    The beat health check keeps it fresh, so that the monitoring page never asks the server or
    broadcasts to the workers while an operator waits. A part that could not be checked has its
    error instead of its figures.
    """

    server_status: ServerStatus | None
    server_error: str
    server_checked_at: datetime
    queue_status: QueueStatus | None
    queue_error: str
    queues_checked_at: datetime

    @property
    def checked_at(self) -> datetime:
        """When the older of the two parts was checked."""
        return min(self.server_checked_at, self.queues_checked_at)

    def is_stale(self, *, now: datetime | None = None) -> bool:
        limit = STALE_AFTER_CHECK_INTERVALS * settings.HEALTH_CHECK_INTERVAL
        return ((now or timezone.now()) - self.checked_at).total_seconds() > limit


@dataclass(frozen=True)
class CachedAnalytics:
    analytics: Analytics
    computed_at: datetime


def monitoring_snapshot_cache_key() -> str:
    # Per server URL (beside discovery's key), so that a new URL never shows the old server.
    return f"{stats_cache_key()}:monitoring-snapshot"


def analytics_cache_key(*, days: int) -> str:
    return f"monitoring:analytics:{days}"


def monitoring_snapshot_get() -> MonitoringSnapshot | None:
    """The figures the last check kept (one cache read), or None when none was kept yet."""
    return cache.get(monitoring_snapshot_cache_key())


def analytics_cached_get(*, days: int) -> CachedAnalytics | None:
    """The analytics of the last `days` as computed at most HEALTH_CHECK_INTERVAL ago, or None."""
    return cache.get(analytics_cache_key(days=days))


# --- The admin's index panel ----------------------------------------------------------------------


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
