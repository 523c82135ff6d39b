"""The inference server's `/stats` and the analytics, shaped for the monitoring page.

`/stats` comes from another service: any value may be missing, null or of the wrong type (the
contract lists such quirks), so everything read from it here is checked, never trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from monitoring.analytics import (
    AnalysisTiming,
    Analytics,
    DayCount,
    ModelAnalytics,
    VerdictCount,
)
from monitoring.models import ServerHealth

PERCENT_MAX = 100.0
UTC_OFFSET = "+00:00"
# The per-model flags of `/stats` -> the media type they stand for.
MODEL_MEDIA_FLAGS = (
    ("isVideo", "Video"),
    ("isAudio", "Audio"),
    ("isImage", "Image"),
    ("isMultiModal", "Video with audio"),
)


@dataclass(frozen=True)
class Gauge:
    label: str
    percent: float
    detail: str


@dataclass(frozen=True)
class LoadedModel:
    name: str
    loaded: bool
    media_types: list[str]
    device: str
    description: str
    inference_count: int | None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _section(stats: dict[str, Any], name: str) -> dict[str, Any]:
    value = stats.get(name)
    return value if isinstance(value, dict) else {}


def _gauge(label: str, percent: Any, used: Any, total: Any, unit: str) -> Gauge | None:
    value = _number(percent)
    if value is None:
        return None
    used_value, total_value = _number(used), _number(total)
    detail = (
        f"{used_value:g} of {total_value:g} {unit}"
        if used_value is not None and total_value is not None
        else ""
    )
    return Gauge(label=label, percent=min(max(value, 0.0), PERCENT_MAX), detail=detail)


def resource_gauges(stats: dict[str, Any]) -> list[Gauge]:
    """GPU memory and RAM use, each only when the server reports it (a CPU server reports no
    GPU figures: every `device_info` field but type and name is null). For the CPU see
    `cpu_summary`."""
    device, system = _section(stats, "device_info"), _section(stats, "system_info")
    gauges = [
        _gauge(
            f"GPU memory ({device.get('name') or device.get('type') or 'GPU'})",
            device.get("memory_usage_percent"),
            device.get("used_memory"),
            device.get("total_memory"),
            "GiB",
        ),
        _gauge(
            "RAM",
            system.get("ram_usage_percent"),
            system.get("used_ram"),
            system.get("total_ram"),
            "GiB",
        ),
    ]
    return [gauge for gauge in gauges if gauge is not None]


def cpu_summary(stats: dict[str, Any]) -> str:
    """The server's CPU as `/stats` reports it: its core count, if given.

    The contract's `/stats` has no CPU load figure, so there is no CPU gauge: the page says so
    instead of drawing a number nobody measured.
    """
    count = _number(_section(stats, "system_info").get("cpu_count"))
    if count is None or count < 1:
        return ""
    cores = int(count)
    return f"{cores} core{'' if cores == 1 else 's'}; the server reports no CPU load figure"


def system_facts(stats: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs about the server that are reported, for a definition list."""
    device, system = _section(stats, "device_info"), _section(stats, "system_info")
    configuration = _section(stats, "configuration")
    uptime = _number(stats.get("uptime_seconds"))
    facts = [
        ("Service", stats.get("service_name")),
        ("Version", stats.get("version")),
        ("Reported status", stats.get("status")),
        ("Uptime", f"{uptime / 60:.0f} min" if uptime is not None else None),
        ("Device", " · ".join(str(v) for v in (device.get("type"), device.get("name")) if v)),
        ("CUDA", device.get("cuda_version")),
        ("Platform", system.get("platform")),
        ("Python", system.get("python_version")),
        ("Torch", configuration.get("torch_version")),
        ("Default model", configuration.get("default_model")),
    ]
    return [(label, str(value)) for label, value in facts if value not in (None, "")]


def loaded_models(stats: dict[str, Any]) -> list[LoadedModel]:
    """Every model `/stats` lists, loaded first, with the media types its flags name."""
    entries = stats.get("models_info")
    models = [
        LoadedModel(
            name=str(entry["name"]),
            loaded=entry.get("loaded") is True,
            media_types=[label for flag, label in MODEL_MEDIA_FLAGS if entry.get(flag) is True],
            device=str(entry.get("device") or ""),
            description=str(entry.get("description") or ""),
            inference_count=(
                int(count) if (count := _number(entry.get("inference_count"))) is not None else None
            ),
        )
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    ]
    return sorted(models, key=lambda model: (not model.loaded, model.name))


# --- The charts' JSON -----------------------------------------------------------------------------
# The same camelCase shape as the monitoring API's answers (`monitoring.api.serializers`), so that
# the page and the API never describe a figure differently; a test compares the two.


def _iso_datetime(value: datetime) -> str:
    """ISO 8601 in the current time zone, UTC written "Z": as the API writes datetimes."""
    text = timezone.localtime(value).isoformat()
    return f"{text.removesuffix(UTC_OFFSET)}Z" if text.endswith(UTC_OFFSET) else text


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def _history_point(health: ServerHealth) -> dict[str, Any]:
    """One point of the health chart; the page needs no payload."""
    return {
        "checkedAt": _iso_datetime(health.checked_at),
        "status": str(health.status),
        "responseTimeMs": health.response_time_ms,
    }


def _model_figures(model: ModelAnalytics) -> dict[str, Any]:
    return {
        "modelName": model.model_name,
        "count": model.count,
        "completed": model.completed,
        "failed": model.failed,
        "failureRate": _float_or_none(model.failure_rate),
        "processingTimeAvg": _float_or_none(model.processing_time_avg),
        "processingTimeMin": _float_or_none(model.processing_time_min),
        "processingTimeMax": _float_or_none(model.processing_time_max),
        "processingTimeP95": _float_or_none(model.processing_time_p95),
        "confidenceByMediaType": {
            str(media_type): _float_or_none(average)
            for media_type, average in model.confidence_by_media_type.items()
        },
    }


def _timing(timing: AnalysisTiming) -> dict[str, Any]:
    return {
        "analysisId": str(timing.analysis_id),
        "runId": str(timing.run_id),
        "mediaId": str(timing.media_id),
        "modelName": timing.model_name,
        "mediaFilename": timing.media_filename,
        "mediaType": None if timing.media_type is None else str(timing.media_type),
        "processingTime": float(timing.processing_time),
    }


def _day_count(day: DayCount) -> dict[str, Any]:
    return {"day": day.day.isoformat(), "count": day.count}


def _verdict_count(verdict: VerdictCount) -> dict[str, Any]:
    return {
        "verdict": None if verdict.verdict is None else str(verdict.verdict),
        "label": str(verdict.label),
        "count": verdict.count,
    }


def _analytics_figures(analytics: Analytics) -> dict[str, Any]:
    """The analytics as plain JSON data, in the API's shape."""
    return {
        "days": analytics.days,
        "since": _iso_datetime(analytics.since),
        "models": [_model_figures(model) for model in analytics.models],
        "slowest": [_timing(timing) for timing in analytics.slowest],
        "fastest": [_timing(timing) for timing in analytics.fastest],
        "uploadsPerDay": [_day_count(day) for day in analytics.uploads_per_day],
        "verdicts": [_verdict_count(verdict) for verdict in analytics.verdicts],
    }


def chart_data(*, history: list[ServerHealth], analytics: Analytics) -> dict[str, Any]:
    """The JSON the page's charts read: the health history oldest first, and the analytics."""
    return {
        "history": [_history_point(health) for health in reversed(history)],
        "analytics": _analytics_figures(analytics),
    }
