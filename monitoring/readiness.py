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
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database unreachable: %s", exc)
        return ComponentCheck("database", ok=False, error=type(exc).__name__)
    return ComponentCheck("database", ok=True)


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
