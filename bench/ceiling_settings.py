"""The development settings, with `bench.ceiling_urls` as the URL configuration.

`bench/list.py` serves the application with these so that one trivial view answers beside the
real routes, through the same middleware, without a benchmark-only route in the shipped URLs.
"""

from drishtiksha.settings.development import *  # noqa: F403

ROOT_URLCONF = "bench.ceiling_urls"
