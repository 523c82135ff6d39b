"""Per-analysis leases: how a worker shows it is alive while it waits on the inference server.

An `/analyze` call can take many minutes without any database write, so "no recent update" cannot
tell a lost task from a slow one. A worker therefore holds a Redis lock per analysis whose expiry
it pushes back from a heartbeat thread. The lock lapses within one lease lifetime of the worker
dying (SIGKILL, OOM, lost machine), and only then may a redelivered task or the reaper take the
analysis over. Holding the lease is also what makes claiming an analysis exclusive.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from redis.exceptions import LockError
from redis.lock import Lock

from media_analysis.redis_connection import redis_client, redis_key

logger = logging.getLogger(__name__)


def lease_key(analysis_id: uuid.UUID | str) -> str:
    return redis_key("analysis-lease", analysis_id)


class AnalysisLease:
    """A renewable, owner-checked lock on one analysis row."""

    def __init__(self, *, analysis_id: uuid.UUID | str, owner: str) -> None:
        self.analysis_id = analysis_id
        self.owner = owner
        self._lifetime = settings.ANALYSIS_HEARTBEAT_SECONDS
        # Not thread-local: the heartbeat thread renews the lock the task thread acquired.
        self._lock: Lock = redis_client().lock(
            lease_key(analysis_id), timeout=self._lifetime, thread_local=False
        )

    def acquire(self, *, wait: bool) -> bool:
        """Take the lease; with `wait`, for up to one lifetime plus a renewal period.

        That is long enough for the lease of a dead holder to lapse, and too short to outlast a
        live holder, who renews it every third of a lifetime.
        """
        if not wait:
            return self._lock.acquire(blocking=False, token=self.owner)
        return self._lock.acquire(
            blocking=True, blocking_timeout=self._lifetime * 4 / 3, token=self.owner
        )

    def release(self) -> None:
        try:
            self._lock.release()
        except LockError:
            # It lapsed (the worker was paused longer than a lifetime); nothing left to release.
            logger.warning("lease on analysis %s had already lapsed", self.analysis_id)

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lease in the background for as long as the block runs."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self._lifetime / 3):
                try:
                    self._lock.reacquire()
                except LockError:
                    logger.error("lost the lease on analysis %s", self.analysis_id)
                    return
                except Exception:  # noqa: BLE001 - a Redis blip must not kill the heartbeat
                    logger.warning(
                        "could not renew the lease on analysis %s", self.analysis_id, exc_info=True
                    )

        thread = threading.Thread(
            target=renew, name=f"lease-heartbeat-{self.analysis_id}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
