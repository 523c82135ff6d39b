"""The end-user pages: dashboard, upload, media, run and model report.

Views are thin: read with a selector, change with a service, render. A domain error becomes a
form error or a message; someone else's (or an unknown) id is the 404 page. The pages call the
same services as the API, and the upload page's script talks to the API directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.ws_tickets import PROGRESS_WEBSOCKET_PATH
from audit.services import audit_context_from_request
from drishtiksha.db import connection_give_back
from drishtiksha.errors import DomainError, NotFound, ValidationFailed
from drishtiksha.forms import form_add_domain_error
from drishtiksha.paging import IdsFirstPaginator, page_links, query_string
from media_analysis import chart_data, discovery, ml_client
from media_analysis.batch import too_many_files_error
from media_analysis.choices import MediaType, RunStatus, Verdict
from media_analysis.discovery import InferenceModel
from media_analysis.formats import FORMATS_BY_EXTENSION, accepted_formats_summary
from media_analysis.forms import ROBUSTNESS_FIELD, AnalyzeForm, DescriptionForm, UploadForm
from media_analysis.models import DESCRIPTION_MAX_LENGTH, DeepfakeAnalysis, Media
from media_analysis.pages import (
    ORDERING_CHOICES,
    dashboard_params,
    metadata_rows,
    page_size_parse,
    safe_next,
    sort_columns,
    vocabulary,
)
from media_analysis.pipeline.start import run_start
from media_analysis.robustness import robustness_summary
from media_analysis.run_report import run_report_context, share_section_context
from media_analysis.selectors import (
    MediaFilters,
    analysis_get_for_user,
    media_counts_for_user,
    media_filters_parse,
    media_get_for_user,
    media_list_for_user,
    run_get_for_user,
)
from media_analysis.services.ingest import media_ingest
from media_analysis.services.media import media_delete, media_update

T = TypeVar("T")
MEDIA_URL_PLACEHOLDER = uuid.UUID(int=0)


def _or_404(selector: Callable[..., T], **kwargs: Any) -> T:
    try:
        return selector(**kwargs)
    except NotFound as error:
        raise Http404(error.message) from error


def _loaded_models() -> list[InferenceModel] | None:
    """The models loaded on the inference server, or None when it cannot be asked right now."""
    try:
        return [model for model in discovery.models_list() if model.loaded]
    except ml_client.InferenceError:
        return None


def _compatible_models(media: Media) -> list[InferenceModel] | None:
    try:
        return discovery.models_compatible(media=media)
    except ml_client.InferenceError:
        return None


def _media_url(media_id: Any) -> str:
    return reverse("media:detail", kwargs={"media_id": media_id})


# --- Dashboard ------------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    query = request.GET
    try:
        filters = media_filters_parse(
            media_type=query.get("mediaType", ""),
            status=query.get("status", ""),
            verdict=query.get("verdict", ""),
            search=query.get("search", ""),
            ordering=query.get("ordering", ""),
        )
    except ValidationFailed as error:
        messages.error(request, f"{error.message} Showing all your media instead.")
        filters = MediaFilters()
    page_size = page_size_parse(query.get("pageSize"))
    media = media_list_for_user(user=request.user, filters=filters)
    paginator = IdsFirstPaginator(media, page_size)
    page = paginator.get_page(query.get("page"))
    params = dashboard_params(filters=filters, page_size=page_size)
    page_params = {**params, "page": str(page.number)} if page.number > 1 else params
    return render(
        request,
        "media_analysis/dashboard.html",
        {
            "counts": media_counts_for_user(user=request.user),
            "filters": filters,
            "filtered": bool(
                filters.search or filters.media_type or filters.status or filters.verdict
            ),
            "page": page,
            "page_size": page_size,
            # A size typed into the URL is offered too, so submitting the form again keeps it.
            "page_size_choices": sorted({*settings.DASHBOARD_PAGE_SIZE_CHOICES, page_size}),
            "columns": sort_columns(params=params, ordering=filters.ordering),
            **page_links(params=params, page=page),
            "current_url": f"{request.path}{query_string(page_params)}",
            "media_types": [c for c in MediaType.choices if c[0] != MediaType.UNKNOWN],
            "statuses": RunStatus.choices,
            "verdicts": Verdict.choices,
            "orderings": ORDERING_CHOICES,
            "description_max_length": DESCRIPTION_MAX_LENGTH,
            "ws_path": PROGRESS_WEBSOCKET_PATH,
            "vocabulary": vocabulary(),
        },
    )


# --- Upload ---------------------------------------------------------------------------------------


def _upload_rules() -> dict[str, Any]:
    """What the upload page's script checks before sending: the same table the server enforces."""
    return {
        "maxUploadSize": settings.MAX_UPLOAD_SIZE,
        "formats": accepted_formats_summary(),
        "mimetypes": {ext: fmt.mimetype for ext, fmt in FORMATS_BY_EXTENSION.items()},
        "maxBatchFiles": settings.UPLOAD_BATCH_MAX_FILES,
        "batchConcurrency": settings.UPLOAD_BATCH_CONCURRENCY,
    }


def _render_upload(
    request: HttpRequest,
    *,
    form: UploadForm,
    models: list[InferenceModel] | None,
    status: int = 200,
    errors: list[str] | None = None,
    batch_results: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    """The upload page; `errors` are problems found before the form could even be read.
    `batch_results` are the outcomes of several files posted at once without scripts."""
    return render(
        request,
        "media_analysis/upload.html",
        {
            "form": form,
            "errors": errors or form.non_field_errors(),
            "models": models,
            "models_json": [
                {
                    "name": model.name,
                    "video": model.is_video,
                    "audio": model.is_audio,
                    "image": model.is_image,
                    "multimodal": model.is_multimodal,
                    "description": model.description,
                }
                for model in models or []
            ],
            "rules": _upload_rules(),
            "accept": ",".join(f".{ext}" for ext in FORMATS_BY_EXTENSION),
            "max_upload_mib": settings.MAX_UPLOAD_SIZE / (1024 * 1024),
            # The script swaps the placeholder for the new media's id once the upload is stored.
            "media_url_template": _media_url(MEDIA_URL_PLACEHOLDER),
            "media_url_placeholder": str(MEDIA_URL_PLACEHOLDER),
            "batch_results": batch_results,
            "batch_uploaded": sum(result["ok"] for result in batch_results or []),
            "max_batch_files": settings.UPLOAD_BATCH_MAX_FILES,
        },
        status=status,
    )


@csrf_protect
def _upload_post(request: HttpRequest, models: list[InferenceModel] | None) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES, models=models)
    uploads = request.FILES.getlist("media")
    if len(uploads) > 1 and form.is_valid():
        return _upload_batch_post(request, form=form, uploads=uploads, models=models)
    if form.is_valid():
        upload = form.cleaned_data["media"]
        try:
            result = media_ingest(
                owner=request.user,
                upload=upload,
                filename=upload.name or "",
                description=form.cleaned_data["description"],
                model_names=form.cleaned_data["models"] or None,
                robustness_check=form.cleaned_data[ROBUSTNESS_FIELD],
                audit=audit_context_from_request(request),
            )
        except DomainError as error:
            form_add_domain_error(form, error)
            if error.field_errors:
                # The field says what is wrong in brief; the message says what would be accepted.
                form.add_error(None, error.message)
            return _render_upload(request, form=form, models=models, status=error.status_code)
        messages.success(request, f"{result.media.original_filename} uploaded; analysis queued.")
        return redirect(_media_url(result.media.pk))
    return _render_upload(request, form=form, models=models, status=400)


def _upload_batch_post(
    request: HttpRequest, *, form: UploadForm, uploads: list, models: list[InferenceModel] | None
) -> HttpResponse:
    """Several files in one form post (the page without scripts): each is stored on its own and
    every outcome is listed, so one refused file does not stop the others."""
    if len(uploads) > settings.UPLOAD_BATCH_MAX_FILES:
        error = too_many_files_error()
        form.add_error("media", error.message)
        return _render_upload(
            request, form=form, models=models, status=error.status_code, errors=[error.message]
        )
    results = []
    for upload in uploads:
        try:
            result = media_ingest(
                owner=request.user,
                upload=upload,
                filename=upload.name or "",
                description=form.cleaned_data["description"],
                model_names=form.cleaned_data["models"] or None,
                robustness_check=form.cleaned_data[ROBUSTNESS_FIELD],
                audit=audit_context_from_request(request),
            )
        except DomainError as error:
            results.append({"filename": upload.name, "ok": False, "message": error.message})
        else:
            media = result.media
            url = _media_url(media.pk)
            results.append({"filename": media.original_filename, "ok": True, "url": url})
    status = 200 if any(result["ok"] for result in results) else 400
    return _render_upload(request, form=form, models=models, status=status, batch_results=results)


# The CSRF middleware would read the multipart body before this view runs, and an upload over
# MAX_UPLOAD_SIZE would then surface as a server error instead of a form error. So the body is
# read here, inside a try, and the CSRF check runs right after (`csrf_protect` on `_upload_post`).
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def upload_view(request: HttpRequest) -> HttpResponse:
    models = _loaded_models()
    if request.method == "GET":
        return _render_upload(request, form=UploadForm(models=models), models=models)
    connection_give_back()  # while the body arrives
    try:
        request.FILES  # noqa: B018 - parses the body, where the size limit is enforced
    except DomainError as error:
        return _render_upload(
            request,
            form=UploadForm(models=models),
            models=models,
            status=error.status_code,
            errors=[error.message],
        )
    return _upload_post(request, models)


# --- Media page and its actions -------------------------------------------------------------------


@login_required
@require_GET
def media_detail_view(request: HttpRequest, media_id: Any) -> HttpResponse:
    media = _or_404(media_get_for_user, user=request.user, media_id=media_id)
    runs = list(media.runs.all())
    models = _compatible_models(media)
    return render(
        request,
        "media_analysis/media_detail.html",
        {
            "media": media,
            "runs": runs,
            "active_run": next((run for run in runs if run.status in RunStatus.active()), None),
            "metadata_rows": metadata_rows(media),
            "robustness": robustness_summary(media=media),
            "models": models,
            "analyze_form": AnalyzeForm(models=models),
            "description_form": DescriptionForm(initial={"description": media.description}),
            "ws_path": PROGRESS_WEBSOCKET_PATH,
            "vocabulary": vocabulary(),
        },
    )


@login_required
@require_POST
def media_analyze_view(request: HttpRequest, media_id: Any) -> HttpResponse:
    media = _or_404(media_get_for_user, user=request.user, media_id=media_id)
    form = AnalyzeForm(request.POST, models=_compatible_models(media))
    back = safe_next(request, _media_url(media.pk))
    if not form.is_valid():
        messages.error(request, "Choose models from the list offered.")
        return redirect(back)
    try:
        run = run_start(
            media=media,
            model_names=form.cleaned_data["models"] or None,
            audit=audit_context_from_request(request),
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Run #{run.run_number} of {media.original_filename} is queued.")
    return redirect(back)


@login_required
@require_http_methods(["GET", "POST"])
def media_edit_view(request: HttpRequest, media_id: Any) -> HttpResponse:
    media = _or_404(media_get_for_user, user=request.user, media_id=media_id)
    if request.method == "GET":
        form = DescriptionForm(initial={"description": media.description})
    else:
        form = DescriptionForm(request.POST)
        if form.is_valid():
            try:
                media_update(media=media, description=form.cleaned_data["description"])
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(request, "Description saved.")
                return redirect(safe_next(request, _media_url(media.pk)))
    return render(
        request,
        "media_analysis/media_edit.html",
        {"media": media, "form": form, "next": safe_next(request, _media_url(media.pk))},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def media_delete_view(request: HttpRequest, media_id: Any) -> HttpResponse:
    """Deletes only a POST that says `confirmed=yes`: the page's dialog adds it, and without
    scripts the first POST lands on this confirmation page instead."""
    media = _or_404(media_get_for_user, user=request.user, media_id=media_id)
    dashboard = reverse("home")
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        name = media.original_filename
        media_delete(media=media, audit=audit_context_from_request(request))
        messages.success(request, f"{name} and its analyses were deleted.")
        target = safe_next(request, dashboard)
        # Going back to the page of what was just deleted would be a 404.
        return redirect(dashboard if target.startswith(_media_url(media_id)) else target)
    return render(
        request,
        "media_analysis/media_confirm_delete.html",
        {"media": media, "next": safe_next(request, dashboard)},
    )


# --- Run and model report pages -------------------------------------------------------------------


@login_required
@require_GET
def run_detail_view(request: HttpRequest, run_id: Any) -> HttpResponse:
    run = _or_404(run_get_for_user, user=request.user, run_id=run_id)
    context = {**run_report_context(run=run), **share_section_context(run=run)}
    return render(request, "media_analysis/run_detail.html", context)


def _detector_description(analysis: DeepfakeAnalysis) -> str:
    """What the model that answered measures: as stored when the run started, else the inference
    server's current text, if it can be asked.

    The stored text describes the model asked for; when the server fell back to another one, or
    the run predates stored descriptions, only the server can describe the model that answered.
    """
    model_name = analysis.model_used or analysis.model_name
    if analysis.model_description and model_name == analysis.model_name:
        return analysis.model_description
    try:
        models = discovery.models_list()
    except ml_client.InferenceError:
        return ""
    return next((model.description for model in models if model.name == model_name), "")


@login_required
@require_GET
def analysis_detail_view(request: HttpRequest, analysis_id: Any) -> HttpResponse:
    analysis = _or_404(analysis_get_for_user, user=request.user, analysis_id=analysis_id)
    payload = analysis.result_payload if isinstance(analysis.result_payload, dict) else {}
    details = analysis.error_details if isinstance(analysis.error_details, dict) else {}
    raw, raw_truncated = chart_data.raw_result_text(analysis=analysis)
    kind = chart_data.media_kind(analysis)
    return render(
        request,
        "media_analysis/analysis_detail.html",
        {
            "analysis": analysis,
            "run": analysis.run,
            "media": analysis.run.media,
            "kind": kind,
            "note": payload.get("note") if isinstance(payload.get("note"), str) else "",
            "charts": chart_data.analysis_chart_data(analysis=analysis),
            "tables": chart_data.result_tables(analysis=analysis),
            "audio_figures": chart_data.audio_figures(payload) if kind == MediaType.AUDIO else [],
            "raw_result": raw,
            "raw_truncated": raw_truncated,
            "correlation_id": details.get("correlation_id") or "",
            "description": _detector_description(analysis),
        },
    )
