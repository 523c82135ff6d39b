"""Media and report routes under `/api/v1/`, without trailing slashes (as clients call them)."""

from django.urls import path

from media_analysis.api import views

app_name = "media-api"

urlpatterns = [
    path("media", views.MediaCollectionView.as_view(), name="collection"),
    path("media/upload-rules", views.UploadRulesView.as_view(), name="upload-rules"),
    path("media/<uuid:media_id>", views.MediaDetailView.as_view(), name="detail"),
    path("media/<uuid:media_id>/analyze", views.MediaAnalyzeView.as_view(), name="analyze"),
    path("media/<uuid:media_id>/file", views.MediaFileView.as_view(), name="file"),
    path("media/<uuid:media_id>/thumbnail", views.MediaThumbnailView.as_view(), name="thumbnail"),
    path("pdf/report/run/<uuid:run_id>", views.RunReportView.as_view(), name="run-report"),
]
