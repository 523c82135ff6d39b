"""Monitoring routes under `/api/v1/monitoring/`, without trailing slashes, as clients call them."""

from django.urls import path

from monitoring.api import views

app_name = "monitoring-api"

urlpatterns = [
    path("server-status", views.ServerStatusView.as_view(), name="server-status"),
    path("server-history", views.ServerHistoryView.as_view(), name="server-history"),
    path("queue-status", views.QueueStatusView.as_view(), name="queue-status"),
    path("check-stuck-runs", views.CheckStuckRunsView.as_view(), name="check-stuck-runs"),
    path("verify-statuses", views.VerifyStatusesView.as_view(), name="verify-statuses"),
    path("fix-statuses", views.FixStatusesView.as_view(), name="fix-statuses"),
    path("analytics", views.AnalyticsView.as_view(), name="analytics"),
]
