"""The end-user pages (the dashboard itself is routed at `/` by the project's urls)."""

from django.urls import path

from media_analysis import views

app_name = "media"

urlpatterns = [
    path("upload/", views.upload_view, name="upload"),
    path("media/<uuid:media_id>/", views.media_detail_view, name="detail"),
    path("media/<uuid:media_id>/analyze/", views.media_analyze_view, name="analyze"),
    path("media/<uuid:media_id>/edit/", views.media_edit_view, name="edit"),
    path("media/<uuid:media_id>/delete/", views.media_delete_view, name="delete"),
    path("runs/<uuid:run_id>/", views.run_detail_view, name="run"),
    path("analyses/<uuid:analysis_id>/", views.analysis_detail_view, name="analysis"),
]
