"""The staff monitoring page under `/monitoring/`."""

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.monitoring_page, name="page"),
    path("figures/", views.monitoring_figures, name="figures"),
    path("check-stuck-runs/", views.check_stuck_runs, name="check-stuck-runs"),
]
