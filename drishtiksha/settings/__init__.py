"""Settings of the project, one module per environment on top of `base`.

- `base`: what every environment shares, read from the environment (see `.env.example`).
- `development`: the default (`make run`, manage.py by hand): DEBUG on, a generated secret key,
  static files straight from the source folders, plain http.
- `production`: chosen by DJANGO_ENV=production: secrets required, HTTPS hardening, hashed static
  files, JSON logs.
- `test`: what pytest runs with (pyproject.toml).

An entry point that is not told DJANGO_SETTINGS_MODULE takes the module DJANGO_ENV names through
`use_environment_settings`, so that a deployment sets DJANGO_ENV and nothing else.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

SETTINGS_MODULE_BY_ENVIRONMENT = {
    "development": "drishtiksha.settings.development",
    "production": "drishtiksha.settings.production",
}


def settings_module_for_environment() -> str:
    """The settings module DJANGO_ENV names (unset: development).

    An unknown name is refused rather than read as development: a deployment that misspells
    `production` would otherwise run with DEBUG on.
    """
    environment = os.environ.get("DJANGO_ENV") or "development"
    try:
        return SETTINGS_MODULE_BY_ENVIRONMENT[environment]
    except KeyError:
        raise ImproperlyConfigured(
            f"DJANGO_ENV must be one of {', '.join(SETTINGS_MODULE_BY_ENVIRONMENT)},"
            f" got {environment!r}"
        ) from None


def use_environment_settings() -> None:
    """Point DJANGO_SETTINGS_MODULE at DJANGO_ENV's module unless it names one already."""
    if "DJANGO_SETTINGS_MODULE" not in os.environ:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module_for_environment()
