"""Development: the default for `make run` and manage.py when DJANGO_ENV is not production.

DEBUG is on unless DJANGO_DEBUG says otherwise, the secret key is generated once per checkout, and
everything runs on plain http with the embedded services `base` falls back to.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import VAR_DIR, env_bool, env_str, secure_cookies

DEBUG = env_bool("DJANGO_DEBUG", True)

# Generated per checkout so that nothing secret is committed; DJANGO_SECRET_KEY still wins.
_DEV_SECRET_FILE = VAR_DIR / "dev-secret-key"


def _development_secret_key() -> str:
    if _DEV_SECRET_FILE.exists():
        return _DEV_SECRET_FILE.read_text().strip()
    from django.core.management.utils import get_random_secret_key

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = get_random_secret_key()
    _DEV_SECRET_FILE.write_text(key)
    return key


SECRET_KEY = env_str("DJANGO_SECRET_KEY") or _development_secret_key()

# Static files are served straight from the source folders, no collectstatic, also with DEBUG off
# (as `make run` starts it, so that errors show the site's own pages).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Plain http: cookies are not marked Secure unless DJANGO_SECURE_COOKIES asks for it.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = AUTH_COOKIE_SECURE = secure_cookies(default=False)
