"""Top-level URL configuration."""

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from drishtiksha.content_security import policy_replaced
from media_analysis import views as media_views
from monitoring import views as monitoring_views

# Under /api/ these answer in the JSON error envelope, elsewhere with an HTML page.
handler400 = "drishtiksha.views.bad_request"
handler403 = "drishtiksha.views.permission_denied"
handler404 = "drishtiksha.views.page_not_found"
handler500 = "drishtiksha.views.server_error"

urlpatterns = [
    path("api/health", monitoring_views.health, name="health"),
    path("readyz", monitoring_views.readiness, name="readiness"),
    path("admin/", admin.site.urls),
    # Pages without an icon link of their own (the admin's, the API documentation) get ours.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
    path("api/v1/auth/", include("accounts.api.urls")),
    path("api/v1/", include("media_analysis.api.urls")),
    path("api/v1/", include("integrations.api.urls")),
    path("api/v1/", include("audit.api.urls")),
    path("api/v1/monitoring/", include("monitoring.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: its HTML renderer has no template for DRF's OPTIONS answer (that was a 500).
    # Swagger UI's script comes from a file (the split view); its stylesheet is injected inline
    # at run time, so this one page allows inline style (never inline script).
    path(
        "api/docs/",
        policy_replaced(style_src=["'self'", "'unsafe-inline'"])(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", http_method_names=["get", "head"]
            )
        ),
        name="api-docs",
    ),
    path("accounts/", include("accounts.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("integrations/", include("integrations.urls")),
    path("", include("audit.urls")),
    path("", media_views.dashboard_view, name="home"),
    path("", include("media_analysis.urls")),
]
