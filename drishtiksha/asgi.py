"""ASGI entry point: plain HTTP goes to Django, WebSockets to the Channels routing.

HTTP passes through `RequestBodyLimit` first, so an oversized body is refused as it arrives instead
of being spooled to disk by Django in full before anything can check it.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drishtiksha.settings")

# Django must be set up before anything imports models (the websocket routing does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from drishtiksha.asgi_limits import RequestBodyLimit  # noqa: E402
from drishtiksha.routing import websocket_urlpatterns  # noqa: E402
from drishtiksha.ws_origin import OriginOrTicketValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": OriginOrTicketValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
