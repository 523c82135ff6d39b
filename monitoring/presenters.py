"""The inference server's `/stats` and the analytics, shaped for the monitoring page.

`/stats` comes from another service: any value may be missing, null or of the wrong type (the
contract lists such quirks), so everything read from it here is checked, never trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from drishtiksha.api.serializers import CamelCaseSerializer
from monitoring.api.serializers import AnalyticsSerializer
from monitoring.models import ServerHealth
from monitoring.selectors import Analytics

PERCENT_MAX = 100.0
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


class HistoryPointSerializer(CamelCaseSerializer):
    """One point of the health chart; the page needs no payload."""

    checked_at = serializers.DateTimeField()
    status = serializers.CharField()
    response_time_ms = serializers.IntegerField(allow_null=True)


def chart_data(*, history: list[ServerHealth], analytics: Analytics) -> dict[str, Any]:
    """The JSON the page's charts read: the health history oldest first, and the analytics in
    the API's own shape (so that the page and the API never describe them differently)."""
    return {
        "history": HistoryPointSerializer(list(reversed(history)), many=True).data,
        "analytics": AnalyticsSerializer(analytics).data,
    }
