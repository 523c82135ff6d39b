"""Production (DJANGO_ENV=production): secrets required, HTTPS hardening, JSON logs.

It never falls back to a generated key, a local host list or the embedded services, and
`manage.py check --deploy` is clean under it (tests/deploy).
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

# Checked before the shared settings are read: those fall back to the embedded services (and
# create the SQLite database's folder) for whatever is missing.
_REQUIRED = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
_missing = [name for name in _REQUIRED if not os.environ.get(name)]
if _missing:
    raise ImproperlyConfigured(f"Production needs these set: {', '.join(_missing)}")

from .base import *  # noqa: E402, F403
from .base import LOGGING, STORAGES, env_bool, env_int, env_str, secure_cookies  # noqa: E402

SECRET_KEY = env_str("DJANGO_SECRET_KEY")

# Served over HTTPS: every cookie is Secure unless DJANGO_SECURE_COOKIES turns it off.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = AUTH_COOKIE_SECURE = secure_cookies(default=True)

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# The container health checks ask over plain HTTP on the loopback interface; a redirect to
# https would fail them. Both endpoints only say whether the process and its services answer.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^readyz$"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Hashed, compressed static files from collectstatic, served by WhiteNoise with far-future cache
# headers (WhiteNoise looks in the source folders only with DJANGO_DEBUG on).
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}

# One JSON object per log line, with the request id, for the log collector.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
