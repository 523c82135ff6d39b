"""Share links on the pages: the owner's share section of the run report, and the read-only pages
a link opens (`/share/<token>/...`) for anyone holding it, without logging in.

Every answer to a share URL says `no-referrer`, `noindex` and `no-store`: the token is the
credential, so it must not travel in a Referer header, be indexed or be kept by a cache. An
unknown, expired or revoked token is the site's ordinary 404 page, whichever it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_context_from_request
from drishtiksha.errors import DomainError, NotFound
from media_analysis.file_delivery import stored_file_response
from media_analysis.models import ShareLink
from media_analysis.reports.pdf import run_report_content_disposition, run_report_pdf
from media_analysis.run_report import run_report_context, share_section_context
from media_analysis.selectors import run_get_for_user
from media_analysis.services.sharing import (
    share_audit_context,
    share_link_create,
    share_link_expiry_choices,
    share_link_get_for_user,
    share_link_resolve,
    share_link_revoke,
    share_link_view_record,
)

SHARE_RESPONSE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
}


def share_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("media:share", kwargs={"token": token}))


def _expiry_from_form(value: str) -> timedelta | None:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return None
    return timedelta(days=days) if days in share_link_expiry_choices() else None


@login_required
@require_POST
def run_share_create_view(request: HttpRequest, run_id: Any) -> HttpResponse:
    """Make a link and show the run page with it, the one time its full URL is shown."""
    try:
        run = run_get_for_user(user=request.user, run_id=run_id)
    except NotFound as error:
        raise Http404(error.message) from error
    expires_in = _expiry_from_form(request.POST.get("expires_in_days", ""))
    if expires_in is None:
        messages.error(request, "Choose how long the link should work.")
        return redirect(reverse("media:run", kwargs={"run_id": run.pk}) + "#share-heading")
    try:
        link, token = share_link_create(
            run=run,
            created_by=request.user,
            label=request.POST.get("label", ""),
            expires_in=expires_in,
            audit=audit_context_from_request(request),
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(reverse("media:run", kwargs={"run_id": run.pk}) + "#share-heading")
    context = {
        **run_report_context(run=run),
        **share_section_context(run=run, new_url=share_url(request, token), new_link=link),
    }
    response = render(request, "media_analysis/run_detail.html", context)
    # This page holds the token: no cache keeps it and no Referer carries it on.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_POST
def share_link_revoke_view(request: HttpRequest, link_id: Any) -> HttpResponse:
    try:
        link = share_link_get_for_user(user=request.user, link_id=link_id)
    except NotFound as error:
        raise Http404(error.message) from error
    share_link_revoke(link=link, audit=audit_context_from_request(request))
    messages.success(request, "Share link revoked: it no longer opens the report.")
    return redirect(reverse("media:run", kwargs={"run_id": link.run_id}) + "#share-heading")


# --- What a link opens ----------------------------------------------------------------------------


def _shared(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve the token to its link (else 404) and mark the answer as not to be kept or sent on."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str) -> HttpResponse:
        link = share_link_resolve(token=token)
        if link is None:
            raise Http404("Not found.")
        response = view(request, link, token)
        for header, value in SHARE_RESPONSE_HEADERS.items():
            response[header] = value
        return response

    return require_GET(wrapper)


@_shared
def shared_run_view(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    share_link_view_record(link=link, audit=share_audit_context(link=link, request=request))
    context = {**run_report_context(run=link.run), "shared": True, "share_token": token}
    return render(request, "media_analysis/run_detail.html", context)


@_shared
def shared_thumbnail_view(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    media = link.run.media
    if not media.thumbnail:
        raise Http404("Not found.")
    return stored_file_response(name=media.thumbnail.name, content_type="image/jpeg")


@_shared
def shared_file_view(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    media = link.run.media
    if not media.file:
        raise Http404("Not found.")
    return stored_file_response(
        name=media.file.name,
        content_type=media.mimetype,
        range_header=request.META.get("HTTP_RANGE", ""),
    )


@_shared
def shared_pdf_view(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    share_link_view_record(link=link, audit=share_audit_context(link=link, request=request))
    response = HttpResponse(run_report_pdf(run=link.run), content_type="application/pdf")
    response["Content-Disposition"] = run_report_content_disposition(run=link.run)
    return response
