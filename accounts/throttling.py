"""Limits on the anonymous account endpoints.

Failed logins are counted per (client address, email) in the Redis cache: a fixed window opens at
the first failure, and once `LOGIN_FAILURE_LIMIT` failures fall inside it every attempt for that
pair is refused until the window closes. Keying on the pair means an attacker hammering one account
cannot lock its owner out from another address, and a shared address (an office NAT) is not blocked
for other accounts.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from drishtiksha.api.throttling import ClientAddressRateThrottle


class SignupRateThrottle(ClientAddressRateThrottle):
    scope = "signup"
    rate_setting = "API_SIGNUP_THROTTLE_RATE"


class PasswordResetRateThrottle(ClientAddressRateThrottle):
    scope = "password_reset"
    rate_setting = "API_PASSWORD_RESET_THROTTLE_RATE"


def _keys(*, client_ip: str, email: str) -> tuple[str, str]:
    # Hashed so that addresses and emails do not sit in the cache in clear.
    digest = hashlib.sha256(f"{client_ip}|{email.strip().lower()}".encode()).hexdigest()
    return f"login-failures:{digest}:count", f"login-failures:{digest}:since"


def login_lockout_remaining(*, client_ip: str, email: str) -> int:
    """Seconds until this (address, email) may try again; 0 when it is not locked out."""
    count_key, since_key = _keys(client_ip=client_ip, email=email)
    if (cache.get(count_key) or 0) < settings.LOGIN_FAILURE_LIMIT:
        return 0
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    since = cache.get(since_key)
    if since is None:
        return window
    return max(1, math.ceil(since + window - time.time()))


def login_failure_record(*, client_ip: str, email: str) -> None:
    count_key, since_key = _keys(client_ip=client_ip, email=email)
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    cache.add(since_key, time.time(), timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        cache.incr(count_key)  # atomic in Redis, and keeps the window's expiry
    except ValueError:  # the window closed between add() and incr()
        cache.set(count_key, 1, timeout=window)


def login_failures_clear(*, client_ip: str, email: str) -> None:
    cache.delete_many(list(_keys(client_ip=client_ip, email=email)))
