"""ASGI entry point: Socket.IO at `/socket.io/`, plain HTTP to Django, WebSockets to Channels.

HTTP passes through `RequestBodyLimit` first, so an oversized body is refused as it arrives instead
of being spooled to disk by Django in full before anything can check it. Multipart bodies are then
streamed into the request as they arrive (`drishtiksha.asgi_streaming`), so an upload is written
to disk once.

`/socket.io/` (both its long-polling HTTP requests and its websocket) is the single-page app's live
progress endpoint (`media_analysis.socketio_server`); it checks origins and tokens itself and
bounds its own request bodies (Engine.IO's packet size limit), so it sits in front of the rest.
"""

import gc

from drishtiksha.asgi_streaming import streaming_asgi_application
from drishtiksha.settings import use_environment_settings

use_environment_settings()

# Django must be set up before anything imports models (the websocket routing does).
django_asgi_app = streaming_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from drishtiksha.asgi_limits import RequestBodyLimit  # noqa: E402
from drishtiksha.routing import websocket_urlpatterns  # noqa: E402
from drishtiksha.ws_origin import OriginOrTicketValidator  # noqa: E402
from media_analysis.socketio_server import socketio_application  # noqa: E402

application = socketio_application(
    other_asgi_app=ProtocolTypeRouter(
        {
            "http": RequestBodyLimit(django_asgi_app),
            "websocket": OriginOrTicketValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

# Everything a request can need is imported now (the URL configuration pulls in every view) and
# then frozen out of the garbage collector. Otherwise each full collection walks the few hundred
# thousand objects of Django, DRF and the apps, 100-200 ms, inside whichever request triggered
# it: one list request in twenty (bench/list.py, page 1 p95 160 ms against a p50 of 21 ms).
# The resolver's reverse lookup tables are built now too, which the first request that names a
# URL (an upload's answer) would otherwise do: some 50 ms, compiling every route's pattern.
get_resolver().reverse_dict  # noqa: B018 - built for its side effect
gc.freeze()
