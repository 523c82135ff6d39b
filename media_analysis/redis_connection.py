"""The Redis client the pipeline uses for leases and event sequence numbers.

One client (and so one connection pool) per URL and process: redis-py pools are thread-safe and
reset themselves after a fork, so a worker child never reuses its parent's sockets.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def redis_client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


def redis_key(*parts: object) -> str:
    """A key under this deployment's prefix, so several deployments can share one Redis."""
    return ":".join([settings.REDIS_KEY_PREFIX, "pipeline", *(str(part) for part in parts)])
