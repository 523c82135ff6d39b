"""How long to wait before trying again, shared by every service that retries over the network."""

from __future__ import annotations

import random


def backoff_delay(*, attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter.

    Half of the delay is fixed and half random, so that the analyses of a burst that failed
    together (a restarting inference server) do not all come back at the same moment.
    """
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security
