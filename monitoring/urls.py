"""The staff monitoring page under `/monitoring/`."""

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.monitoring_page, name="page"),
    path("check-stuck-runs/", views.check_stuck_runs, name="check-stuck-runs"),
]
