"""WebSocket URL routing. Consumers are added by the apps that own them."""

from django.urls import path

from media_analysis.consumers import PROGRESS_WEBSOCKET_PATH, ProgressConsumer

websocket_urlpatterns: list = [
    path(PROGRESS_WEBSOCKET_PATH.lstrip("/"), ProgressConsumer.as_asgi(), name="ws-progress"),
]
