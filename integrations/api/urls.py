"""Webhook routes under `/api/v1/`, without trailing slashes (as clients call them)."""

from django.urls import path

from integrations.api import views

app_name = "webhooks-api"

urlpatterns = [
    path("webhooks", views.WebhookCollectionView.as_view(), name="collection"),
    path("webhooks/<uuid:webhook_id>", views.WebhookDetailView.as_view(), name="detail"),
    path(
        "webhooks/<uuid:webhook_id>/deliveries",
        views.WebhookDeliveriesView.as_view(),
        name="deliveries",
    ),
    path("webhooks/<uuid:webhook_id>/test", views.WebhookTestView.as_view(), name="test"),
]
