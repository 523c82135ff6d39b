"""ASGI entry point: Socket.IO at `/socket.io/`, plain HTTP to Django, WebSockets to Channels.

HTTP passes through `RequestBodyLimit` first, so an oversized body is refused as it arrives instead
of being spooled to disk by Django in full before anything can check it. Multipart bodies are then
streamed into the request as they arrive (`drishtiksha.asgi_streaming`), so an upload is written
to disk once.

`/socket.io/` (both its long-polling HTTP requests and its websocket) is the single-page app's live
progress endpoint (`media_analysis.socketio_server`); it checks origins and tokens itself and
bounds its own request bodies (Engine.IO's packet size limit), so it sits in front of the rest.
"""

from drishtiksha.asgi_streaming import streaming_asgi_application
from drishtiksha.settings import use_environment_settings

use_environment_settings()

# Django must be set up before anything imports models (the websocket routing does).
django_asgi_app = streaming_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

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
