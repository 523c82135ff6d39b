"""Webhook pages under /integrations/webhooks/: thin views over the same services as the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import audit_context_from_request
from drishtiksha.errors import DomainError, NotFound
from drishtiksha.forms import form_add_domain_error
from integrations.forms import WebhookForm
from integrations.models import Webhook
from integrations.selectors import deliveries_for_webhook, webhook_get_for_user, webhooks_for_user
from integrations.services import webhook_create, webhook_delete, webhook_test_send, webhook_update

# The id of the webhook whose secret the next page shows openly, once, right after creation.
_CREATED_SESSION_KEY = "integrations_webhook_created"


def _webhook_or_404(request: HttpRequest, webhook_id: Any) -> Webhook:
    try:
        return webhook_get_for_user(user=request.user, webhook_id=webhook_id)
    except NotFound as error:
        raise Http404(error.message) from error


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webhook_list_view(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            webhook = webhook_create(
                owner=request.user, context=audit_context_from_request(request), **form.cleaned_data
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            request.session[_CREATED_SESSION_KEY] = str(webhook.pk)
            messages.success(request, "Webhook registered.")
            return redirect("integrations:webhook", webhook_id=webhook.pk)
    return render(
        request,
        "integrations/webhook_list.html",
        {
            "form": form,
            "webhooks": list(webhooks_for_user(user=request.user)),
            "max_webhooks": settings.WEBHOOK_MAX_PER_USER,
        },
        status=400 if form.is_bound else 200,
    )


@never_cache
@login_required
@require_http_methods(["GET"])
def webhook_detail_view(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = _webhook_or_404(request, webhook_id)
    just_created = request.session.pop(_CREATED_SESSION_KEY, None) == str(webhook.pk)
    paginator = Paginator(
        deliveries_for_webhook(webhook=webhook), settings.WEBHOOK_DELIVERIES_PAGE_SIZE
    )
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "integrations/webhook_detail.html",
        {"webhook": webhook, "just_created": just_created, "page": page},
    )


@login_required
@require_POST
def webhook_toggle_view(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = _webhook_or_404(request, webhook_id)
    active = request.POST.get("active") == "yes"
    webhook_update(webhook=webhook, is_active=active)
    messages.success(request, "Webhook enabled." if active else "Webhook disabled.")
    return redirect("integrations:webhook", webhook_id=webhook.pk)


@login_required
@require_POST
def webhook_test_view(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = _webhook_or_404(request, webhook_id)
    try:
        webhook_test_send(webhook=webhook)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Test event queued; its delivery appears in the log below.")
    return redirect("integrations:webhook", webhook_id=webhook.pk)


@login_required
@require_POST
def webhook_delete_view(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    """Deletes only a POST that says `confirmed=yes`; the first POST lands on a confirmation."""
    webhook = _webhook_or_404(request, webhook_id)
    if request.POST.get("confirmed") == "yes":
        webhook_delete(webhook=webhook, context=audit_context_from_request(request))
        messages.success(request, "Webhook removed.")
        return redirect("integrations:webhooks")
    return render(request, "integrations/webhook_confirm_delete.html", {"webhook": webhook})
