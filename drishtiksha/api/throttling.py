"""Request-rate throttles keyed by the caller's address, with rates taken from settings."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from drishtiksha.http import client_ip


class ClientAddressRateThrottle(SimpleRateThrottle):
    """Limit per client address; subclasses name a `scope` and the setting holding their rate.

    The rate ("20/hour") is read from `rate_setting` when the throttle is built for a request, so a
    deployment (or a test) changes it through settings alone.
    """

    rate_setting: str

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}
