"""Integration pages under /integrations/."""

from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("webhooks/", views.webhook_list_view, name="webhooks"),
    path("webhooks/<uuid:webhook_id>/", views.webhook_detail_view, name="webhook"),
    path("webhooks/<uuid:webhook_id>/toggle/", views.webhook_toggle_view, name="toggle"),
    path("webhooks/<uuid:webhook_id>/test/", views.webhook_test_view, name="test"),
    path("webhooks/<uuid:webhook_id>/delete/", views.webhook_delete_view, name="delete"),
]
