"""Analyse a link on the pages: the upload page's link form posts here, and `/imports/<id>/`
shows how the download is going (refreshing itself until it is done, without scripts).

Someone else's (or an unknown) import is the 404 page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_context_from_request
from drishtiksha.errors import DomainError, NotFound
from media_analysis.models import SOURCE_URL_MAX_LENGTH, LinkImportStatus
from media_analysis.services.links import link_import_create, link_import_get_for_user

LINK_FIELD = "url"


@login_required
@require_POST
def link_import_create_view(request: HttpRequest) -> HttpResponse:
    url = request.POST.get(LINK_FIELD, "")
    try:
        link_import = link_import_create(
            owner=request.user,
            url=url,
            description=request.POST.get("description", ""),
            audit=audit_context_from_request(request),
        )
    except DomainError as error:
        messages.error(request, f"The link was not accepted: {error.message}")
        # Back to the form with the link still in it.
        query = urlencode({"link": url[:SOURCE_URL_MAX_LENGTH]})
        return redirect(f"{reverse('media:upload')}?{query}#link-form")
    return redirect("media:import", import_id=link_import.pk)


@login_required
@require_GET
def link_import_detail_view(request: HttpRequest, import_id: Any) -> HttpResponse:
    try:
        link_import = link_import_get_for_user(user=request.user, link_import_id=import_id)
    except NotFound as error:
        raise Http404(error.message) from error
    pending = link_import.status in (LinkImportStatus.QUEUED, LinkImportStatus.DOWNLOADING)
    return render(
        request,
        "media_analysis/import_detail.html",
        {
            "link_import": link_import,
            "pending": pending,
            "refresh_seconds": settings.LINK_IMPORT_PAGE_REFRESH_SECONDS,
        },
    )
