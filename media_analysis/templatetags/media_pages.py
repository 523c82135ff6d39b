"""Formatting filters of the media pages (every one accepts null or nonsense and shows a dash),
and the verdict explanation card."""

from __future__ import annotations

from django import template

from media_analysis.explanations import verdict_explanation
from media_analysis.models import AnalysisRun
from media_analysis.results import as_number, format_duration

register = template.Library()

MISSING = "—"


@register.filter
def percent(value: object) -> str:
    """A 0-1 share as a percentage with one decimal: 0.7 -> "70.0 %"."""
    number = as_number(value)
    return MISSING if number is None else f"{number * 100:.1f} %"


@register.filter
def seconds(value: object) -> str:
    number = as_number(value)
    return MISSING if number is None or number < 0 else f"{number:.2f} s"


@register.filter
def duration(value: object) -> str:
    return format_duration(value, missing=MISSING)


@register.filter
def sorted_join(values: object) -> str:
    """A set of words (accepted formats) in alphabetical order: {"wav", "mp3"} -> "mp3, wav"."""
    if not values:
        return MISSING
    return ", ".join(sorted(str(value) for value in values))


@register.filter
def lowercase_key(value: object) -> str:
    """A status or verdict value as a CSS class suffix: PARTIALLY_ANALYZED -> partially-analyzed."""
    return str(value or "none").lower().replace("_", "-")


@register.inclusion_tag("media_analysis/includes/verdict_explanation.html")
def verdict_explanation_card(run: AnalysisRun) -> dict:
    """The plain-words explanation of a settled run's verdict (see `explanations`)."""
    return {"explanation": verdict_explanation(run=run, analyses=run.analyses.all())}
