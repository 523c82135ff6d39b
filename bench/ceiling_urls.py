"""The project's URLs plus `/bench/ceiling`: a tiny JSON answer, no database, no session.

What the server and the middleware cost on their own, the ceiling that any real view's latency
is read against (see `bench/list.py`).
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from drishtiksha.urls import (  # noqa: F401 - the error handlers are looked up on this module
    handler400,
    handler403,
    handler404,
    handler500,
)
from drishtiksha.urls import urlpatterns as project_urlpatterns

CEILING_PATH = "bench/ceiling"


def ceiling_view(request: HttpRequest) -> JsonResponse:
    # A plain (sync) view, as the real ones are: it pays the same hop to Django's thread.
    return JsonResponse({"ok": True})


urlpatterns = [path(CEILING_PATH, ceiling_view, name="bench-ceiling"), *project_urlpatterns]
