"""The spans of time the monitoring figures speak of, and the version of the kept figures.

Shared by the queue status, the console's summary, the kept page figures and the kept analytics,
so that "recent" and "stale" mean the same everywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

# A check is sent every HEALTH_CHECK_INTERVAL and expires unstarted after one more interval, so
# figures older than this many intervals mean the periodic checks are not running.
STALE_AFTER_CHECK_INTERVALS = 2
# Kept figures (server status, the page's snapshot, analytics) are pickled into the cache under
# keys carrying this version: a release that moves or changes their classes bumps it, so that no
# process reads another release's objects (v2: the classes left monitoring.selectors).
CACHED_FIGURES_VERSION = "v2"


def recent_window_start(*, now: datetime | None = None) -> datetime:
    """Where "recently" starts: MONITORING_RECENT_WINDOW_HOURS before `now`."""
    return (now or timezone.now()) - timedelta(hours=settings.MONITORING_RECENT_WINDOW_HOURS)


def kept_figures_max_age_seconds() -> int:
    """How old kept figures may be before they mean the periodic checks stopped."""
    return STALE_AFTER_CHECK_INTERVALS * settings.HEALTH_CHECK_INTERVAL
