"""Redis (cache, sessions, throttles, broker) not answering, or every pooled database connection
in use past its wait: a 503 with a retry hint, not a 500.

An outage of a service the request depends on is not a bug of this one: the client is told to
come back (`Retry-After`), in the API's envelope or on a page of its own, and nothing is half
done. The request's database transaction is rolled back by the handlers, an upload removes what
it stored (see `services.ingest`), and a run whose tasks could not be queued after its commit
is queued again by the reaper.
"""

from __future__ import annotations

import logging

import kombu.exceptions
import psycopg_pool
import redis.exceptions
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import loader

logger = logging.getLogger(__name__)

OUTAGE_MESSAGE = (
    "The service is briefly unavailable: a server it depends on does not answer. Nothing was "
    "saved; please try again in a few seconds."
)
_OUTAGE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    # No pooled connection came free within DB_POOL_TIMEOUT_SECONDS: too busy, not broken.
    psycopg_pool.PoolTimeout,
)


def is_service_outage(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, is Redis or the broker not answering,
    or the database connection pool staying empty."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _OUTAGE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def retry_after_seconds() -> int:
    return settings.OUTAGE_RETRY_AFTER_SECONDS


def log_outage(request: HttpRequest | None, exc: BaseException) -> None:
    path = getattr(request, "path", "?")
    logger.warning("Service outage while answering %s, answered 503: %r", path, exc)


def outage_page(request: HttpRequest) -> HttpResponse:
    """The standalone 503 page (it needs no session, which lives in the Redis that is down)."""
    response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(retry_after_seconds())
    return response
