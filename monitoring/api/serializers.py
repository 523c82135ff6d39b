"""Wire shapes of the monitoring API (camelCase), from what monitoring's modules return."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from rest_framework import serializers

from drishtiksha.api.casing import camelize
from drishtiksha.api.serializers import CamelCaseModelSerializer, CamelCaseSerializer
from monitoring.consistency import InconsistencyKind
from monitoring.health import ServerStatus
from monitoring.models import HealthStatus, ServerHealth

# --- Input ----------------------------------------------------------------------------------------


def _at_most(setting: str) -> Callable[[int], None]:
    """A validator reading its bound from settings at request time, like the rest of the code."""

    def check(value: int) -> None:
        maximum = getattr(settings, setting)
        if value > maximum:
            raise serializers.ValidationError(
                f"Ensure this value is less than or equal to {maximum}."
            )

    return check


class HistoryQuerySerializer(CamelCaseSerializer):
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        validators=[_at_most("MONITORING_HISTORY_MAX_LIMIT")],
        default=lambda: settings.MONITORING_HISTORY_DEFAULT_LIMIT,
        help_text="Rows to return (default MONITORING_HISTORY_DEFAULT_LIMIT, at most "
        "MONITORING_HISTORY_MAX_LIMIT).",
    )


# --- The inference server -------------------------------------------------------------------------


def stats_in_both_casings(stats: Any) -> Any:
    """A `/stats` document with every key, at every depth, under its own name and camelCased.

    The camelCase names match the rest of the API; the inference server's own snake_case names
    (`models_info`, `uptime_seconds`, `device_info.memory_usage_percent`) are what the existing
    monitoring screen reads.
    """
    if isinstance(stats, dict):
        both: dict[Any, Any] = {}
        for key, value in stats.items():
            converted = stats_in_both_casings(value)
            both[key] = converted
            if isinstance(key, str):
                both[camelize(key)] = converted
        return both
    if isinstance(stats, list):
        return [stats_in_both_casings(item) for item in stats]
    return stats


class ServerStatusSerializer(CamelCaseSerializer):
    """The inference server's `/stats` with every key camelCased at every depth, and also under
    its own snake_case name (see `stats_in_both_casings`), plus how long it took and when it was
    fetched.

    The fields below document the contract's keys; whatever else the server sends passes through
    as well.
    """

    service_name = serializers.CharField()
    version = serializers.CharField()
    status = serializers.CharField()
    uptime_seconds = serializers.FloatField()
    device_info = serializers.DictField(allow_null=True)
    system_info = serializers.DictField(allow_null=True)
    models_info = serializers.ListField(child=serializers.DictField())
    active_models_count = serializers.IntegerField()
    total_models_count = serializers.IntegerField()
    configuration = serializers.DictField(allow_null=True)
    response_time_ms = serializers.IntegerField()
    cached_at = serializers.DateTimeField()

    def to_representation(self, instance: ServerStatus) -> dict[str, Any]:
        return {
            **stats_in_both_casings(instance.stats),
            "responseTimeMs": instance.response_time_ms,
            "cachedAt": serializers.DateTimeField().to_representation(instance.cached_at),
        }


class ServerHealthSerializer(CamelCaseModelSerializer):
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    stats_payload = serializers.SerializerMethodField()

    class Meta:
        model = ServerHealth
        fields = [
            "id",
            "status",
            "response_time_ms",
            "error_message",
            "checked_at",
            "stats_payload",
        ]

    def get_stats_payload(self, health: ServerHealth) -> dict[str, Any] | None:
        """In both casings like GET server-status, so that both describe the server the same
        way."""
        return stats_in_both_casings(health.stats_payload)


# --- Queues ---------------------------------------------------------------------------------------


class QueueCountsSerializer(CamelCaseSerializer):
    name = serializers.CharField()
    pending_jobs = serializers.IntegerField()
    active_jobs = serializers.IntegerField()
    delayed_jobs = serializers.IntegerField()


class QueueStatusSerializer(CamelCaseSerializer):
    pending_jobs = serializers.IntegerField(help_text="Waiting in the broker.")
    active_jobs = serializers.IntegerField(help_text="Running on a worker.")
    delayed_jobs = serializers.IntegerField(
        help_text="Held by a worker but not started: scheduled for later or prefetched."
    )
    completed_jobs = serializers.IntegerField(help_text="Analyses completed in the window.")
    failed_jobs = serializers.IntegerField(help_text="Analyses failed in the window.")
    workers_online = serializers.IntegerField()
    workers = serializers.ListField(child=serializers.CharField())
    queues = QueueCountsSerializer(many=True)
    window_hours = serializers.IntegerField()
    # The same counts under the names the existing monitoring screen reads.
    pending = serializers.IntegerField(source="pending_jobs", help_text="Same as pendingJobs.")
    active = serializers.IntegerField(source="active_jobs", help_text="Same as activeJobs.")
    delayed = serializers.IntegerField(source="delayed_jobs", help_text="Same as delayedJobs.")
    completed = serializers.IntegerField(
        source="completed_jobs", help_text="Same as completedJobs."
    )
    failed = serializers.IntegerField(source="failed_jobs", help_text="Same as failedJobs.")


# --- Maintenance ----------------------------------------------------------------------------------

REAP_ACTIONS = ("redispatched", "timed_out", "finalized_runs", "dispatch_resent")


class ReapIdsSerializer(CamelCaseSerializer):
    redispatched = serializers.ListField(child=serializers.CharField())
    timed_out = serializers.ListField(child=serializers.CharField())
    finalized_runs = serializers.ListField(child=serializers.CharField())
    dispatch_resent = serializers.ListField(child=serializers.CharField())


class ReapResultSerializer(CamelCaseSerializer):
    """Counts per reaper action, and the analysis or run ids behind each count."""

    redispatched = serializers.IntegerField(help_text="Analyses sent again.")
    timed_out = serializers.IntegerField(help_text="Analyses failed as timed out.")
    finalized_runs = serializers.IntegerField(help_text="Runs settled.")
    dispatch_resent = serializers.IntegerField(help_text="Runs whose dispatch was sent again.")
    ids = ReapIdsSerializer()

    def to_representation(self, instance: dict[str, list[str]]) -> dict[str, Any]:
        return super().to_representation(
            {**{action: len(instance[action]) for action in REAP_ACTIONS}, "ids": instance}
        )


class StatusInconsistencySerializer(CamelCaseSerializer):
    kind = serializers.ChoiceField(choices=[(kind.value, kind.value) for kind in InconsistencyKind])
    description = serializers.CharField()
    media_id = serializers.UUIDField()
    media_filename = serializers.CharField()
    run_id = serializers.UUIDField(allow_null=True)
    run_number = serializers.IntegerField(allow_null=True)
    stored_status = serializers.CharField()
    expected_status = serializers.CharField()


class StatusReportSerializer(CamelCaseSerializer):
    count = serializers.IntegerField()
    inconsistencies = StatusInconsistencySerializer(many=True)


class StatusChangeSerializer(CamelCaseSerializer):
    kind = serializers.ChoiceField(choices=[(kind.value, kind.value) for kind in InconsistencyKind])
    media_id = serializers.UUIDField()
    run_id = serializers.UUIDField(allow_null=True)
    before = serializers.CharField()
    after = serializers.CharField()


class StatusFixSerializer(CamelCaseSerializer):
    count = serializers.IntegerField()
    changes = StatusChangeSerializer(many=True)


# --- Analytics ------------------------------------------------------------------------------------


class ModelAnalyticsSerializer(CamelCaseSerializer):
    model_name = serializers.CharField()
    count = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = serializers.FloatField(
        allow_null=True, help_text="Failed / (completed + failed); null when none is final."
    )
    processing_time_avg = serializers.FloatField(allow_null=True, help_text="Seconds.")
    processing_time_min = serializers.FloatField(allow_null=True)
    processing_time_max = serializers.FloatField(allow_null=True)
    processing_time_p95 = serializers.FloatField(
        allow_null=True, help_text="Continuous 95th percentile (linear interpolation)."
    )
    confidence_by_media_type = serializers.DictField(
        child=serializers.FloatField(), help_text="Mean confidence of completed analyses."
    )


class AnalysisTimingSerializer(CamelCaseSerializer):
    analysis_id = serializers.UUIDField()
    run_id = serializers.UUIDField()
    media_id = serializers.UUIDField()
    model_name = serializers.CharField()
    media_filename = serializers.CharField()
    media_type = serializers.CharField(allow_null=True)
    processing_time = serializers.FloatField()


class DayCountSerializer(CamelCaseSerializer):
    day = serializers.DateField()
    count = serializers.IntegerField()


class VerdictCountSerializer(CamelCaseSerializer):
    verdict = serializers.CharField(allow_null=True)
    label = serializers.CharField()
    count = serializers.IntegerField()


class AnalyticsSerializer(CamelCaseSerializer):
    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    models = ModelAnalyticsSerializer(many=True)
    slowest = AnalysisTimingSerializer(many=True)
    fastest = AnalysisTimingSerializer(many=True)
    uploads_per_day = DayCountSerializer(many=True)
    verdicts = VerdictCountSerializer(many=True)
