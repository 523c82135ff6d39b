"""Media and report routes under `/api/v1/`, without trailing slashes (as clients call them)."""

from django.urls import path

from media_analysis.api import batch_views, link_views, share_views, views

app_name = "media-api"

urlpatterns = [
    path("media", views.MediaCollectionView.as_view(), name="collection"),
    path("media/batch", batch_views.MediaBatchUploadView.as_view(), name="batch"),
    path("media/from-url", link_views.LinkImportCreateView.as_view(), name="from-url"),
    path("media/imports", link_views.LinkImportCollectionView.as_view(), name="imports"),
    path(
        "media/imports/<uuid:import_id>",
        link_views.LinkImportDetailView.as_view(),
        name="import-detail",
    ),
    path("media/upload-rules", views.UploadRulesView.as_view(), name="upload-rules"),
    path("media/<uuid:media_id>", views.MediaDetailView.as_view(), name="detail"),
    path("media/<uuid:media_id>/analyze", views.MediaAnalyzeView.as_view(), name="analyze"),
    path("media/<uuid:media_id>/file", views.MediaFileView.as_view(), name="file"),
    path("media/<uuid:media_id>/thumbnail", views.MediaThumbnailView.as_view(), name="thumbnail"),
    path("pdf/report/run/<uuid:run_id>", views.RunReportView.as_view(), name="run-report"),
    path(
        "runs/<uuid:run_id>/share-links",
        share_views.RunShareLinksView.as_view(),
        name="run-share-links",
    ),
    path(
        "share-links/<uuid:link_id>",
        share_views.ShareLinkDetailView.as_view(),
        name="share-link-detail",
    ),
]
