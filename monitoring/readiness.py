"""Readiness: can this process reach the database and Redis right now?"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComponentCheck:
    name: str
    ok: bool
    error: str = ""


def database_check() -> ComponentCheck:
    try:
        # Only PostgreSQL's connections have a pool; SQLite's have no such attribute.
        pool = getattr(connection, "pool", None)
        if pool is not None and connection.connection is None:
            _pooled_connection_check(pool)
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database unreachable: %s", exc)
        return ComponentCheck("database", ok=False, error=type(exc).__name__)
    return ComponentCheck("database", ok=True)


def _pooled_connection_check(pool) -> None:
    """A connection from the pool within DB_HEALTH_TIMEOUT_SECONDS, asked one query.

    The request's own wait (DB_POOL_TIMEOUT_SECONDS) is for load; a probe must say quickly that
    a database refusing connections is unreachable rather than hold its caller that long.
    """
    pool.open()
    with pool.connection(timeout=settings.DB_HEALTH_TIMEOUT_SECONDS) as pooled:
        pooled.execute("SELECT 1").fetchone()


def redis_check() -> ComponentCheck:
    timeout = settings.REDIS_HEALTH_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: redis unreachable: %s", exc)
        return ComponentCheck("redis", ok=False, error=type(exc).__name__)
    finally:
        client.close()
    return ComponentCheck("redis", ok=True)


def readiness_checks() -> list[ComponentCheck]:
    return [database_check(), redis_check()]
