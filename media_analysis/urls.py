"""The end-user pages (the dashboard itself is routed at `/` by the project's urls)."""

from django.urls import path

from media_analysis import link_views, share_views, views

app_name = "media"

urlpatterns = [
    path("upload/", views.upload_view, name="upload"),
    path("upload/link/", link_views.link_import_create_view, name="import-create"),
    path("imports/<uuid:import_id>/", link_views.link_import_detail_view, name="import"),
    path("media/<uuid:media_id>/", views.media_detail_view, name="detail"),
    path("media/<uuid:media_id>/analyze/", views.media_analyze_view, name="analyze"),
    path("media/<uuid:media_id>/edit/", views.media_edit_view, name="edit"),
    path("media/<uuid:media_id>/delete/", views.media_delete_view, name="delete"),
    path("runs/<uuid:run_id>/", views.run_detail_view, name="run"),
    path("analyses/<uuid:analysis_id>/", views.analysis_detail_view, name="analysis"),
    path("runs/<uuid:run_id>/share-links/", share_views.run_share_create_view, name="share-create"),
    path(
        "share-links/<uuid:link_id>/revoke/",
        share_views.share_link_revoke_view,
        name="share-revoke",
    ),
    path("share/<str:token>/", share_views.shared_run_view, name="share"),
    path("share/<str:token>/thumbnail", share_views.shared_thumbnail_view, name="share-thumbnail"),
    path("share/<str:token>/file", share_views.shared_file_view, name="share-file"),
    path("share/<str:token>/pdf", share_views.shared_pdf_view, name="share-pdf"),
]
