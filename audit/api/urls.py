"""Audit routes under `/api/v1/`, without trailing slashes (as clients call them)."""

from django.urls import path

from audit.api import views

app_name = "audit-api"

urlpatterns = [
    path("audit", views.AuditEventCollectionView.as_view(), name="collection"),
]
