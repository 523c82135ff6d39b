"""The owner's activity page: their audit trail, newest first, filtered and paged."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.models import AuditAction
from audit.selectors import (
    AuditFilters,
    audit_actor_name,
    audit_events_for_owner,
    audit_filters_parse,
    audit_target_urls,
)
from drishtiksha.errors import ValidationFailed
from drishtiksha.paging import IdsFirstPaginator, page_links

FILTER_PARAMS = ("action", "since", "until")


@login_required
@require_GET
def activity_view(request: HttpRequest) -> HttpResponse:
    query = request.GET
    raw = {name: query.get(name, "").strip() for name in FILTER_PARAMS}
    try:
        filters = audit_filters_parse(**raw)
    except ValidationFailed as error:
        messages.error(request, f"{error.message} Showing all your activity instead.")
        filters, raw = AuditFilters(), dict.fromkeys(FILTER_PARAMS, "")
    params = {name: value for name, value in raw.items() if value}
    events = audit_events_for_owner(owner=request.user, filters=filters)
    paginator = IdsFirstPaginator(events, settings.AUDIT_PAGE_SIZE)
    page = paginator.get_page(query.get("page"))
    rows = list(page)
    urls = audit_target_urls(events=rows, viewer=request.user)
    entries = [
        {
            "event": event,
            "who": audit_actor_name(event=event, viewer=request.user),
            "url": urls.get(event.pk, ""),
        }
        for event in rows
    ]
    return render(
        request,
        "audit/activity.html",
        {
            "entries": entries,
            "page": page,
            "filters": raw,
            "filtered": bool(params),
            "actions": AuditAction.choices,
            **page_links(params=params, page=page),
        },
    )
