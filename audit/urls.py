"""The owner's activity page."""

from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("activity/", views.activity_view, name="activity"),
]
