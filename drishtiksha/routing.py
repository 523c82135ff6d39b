"""WebSocket URL routing. Consumers are added by the apps that own them."""

from django.urls import path

from accounts.ws_tickets import PROGRESS_WEBSOCKET_PATH
from media_analysis.consumers import ProgressConsumer

websocket_urlpatterns: list = [
    path(PROGRESS_WEBSOCKET_PATH.lstrip("/"), ProgressConsumer.as_asgi(), name="ws-progress"),
]
