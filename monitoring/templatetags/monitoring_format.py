"""Number formatting shared by the monitoring page and the admin's index panel."""

from __future__ import annotations

from django import template

register = template.Library()

PERCENT = 100
NOT_AVAILABLE = "—"


@register.filter
def percent(fraction: float | None, decimals: int = 1) -> str:
    """0.253 -> "25.3 %"; a missing figure (no data yet) shows as a dash, never as 0 %."""
    if fraction is None:
        return NOT_AVAILABLE
    return f"{fraction * PERCENT:.{int(decimals)}f} %"


@register.filter
def seconds(value: float | None, decimals: int = 2) -> str:
    """A duration in seconds, or a dash when there is none."""
    if value is None:
        return NOT_AVAILABLE
    return f"{value:.{int(decimals)}f} s"
