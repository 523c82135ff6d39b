"""Operator views of media, runs and analyses.

Nothing here changes a row by itself: editing a description, deleting media (with its stored
files), re-running and re-finalizing all call the services the API uses. Runs and analyses are
records of what happened and are read-only; they go away with their media.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.services import audit_context_from_request
from drishtiksha.admin_site import EMPTY, ReadOnlyAdmin, pretty_json
from drishtiksha.errors import DomainError
from media_analysis.choices import RunStatus, Verdict
from media_analysis.evaluation.report import COLUMNS, reliability_rows
from media_analysis.evaluation.services import (
    EvaluationSetInvalid,
    evaluation_set_open,
    evaluation_start,
    labels_read,
)
from media_analysis.models import (
    AnalysisRun,
    DeepfakeAnalysis,
    Evaluation,
    EvaluationStatus,
    LinkImport,
    Media,
)
from media_analysis.pipeline.finish import run_resettle
from media_analysis.pipeline.start import run_start
from media_analysis.results import choice_label
from media_analysis.services.media import media_delete, media_update
from media_analysis.verdict import verdict_compute

# JSON documents never loaded for lists: one image's heatmap can weigh megabytes.
HEAVY_ANALYSIS_FIELDS = ("result_payload", "error_details")


def verdict_label(verdict: str | None) -> str:
    """The label the verdict vocabulary gives a stored verdict, as the pages and PDF show it."""
    return choice_label(Verdict, verdict, empty=EMPTY)


class LightAnalysisChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        return super().get_queryset(request, exclude_parameters).defer(*HEAVY_ANALYSIS_FIELDS)


class AnalysisRunInline(admin.TabularInline):
    model = AnalysisRun
    extra = 0
    fields = ("run_number", "status", "verdict_display", "fake_score", "agreement", "created_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Verdict")
    def verdict_display(self, run: AnalysisRun) -> str:
        return verdict_label(run.verdict)


class DeepfakeAnalysisInline(admin.TabularInline):
    model = DeepfakeAnalysis
    extra = 0
    fields = (
        "model_name",
        "status",
        "prediction",
        "confidence",
        "processing_time",
        "attempts",
        "error_message",
    )
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeepfakeAnalysis]:
        return super().get_queryset(request).defer(*HEAVY_ANALYSIS_FIELDS)


@admin.register(Media)
class MediaAdmin(admin.ModelAdmin):
    list_display = (
        "original_filename",
        "owner",
        "media_type",
        "status",
        "latest_verdict",
        "size_display",
        "created_at",
    )
    list_filter = ("media_type", "status", "latest_run__verdict", "created_at")
    search_fields = ("original_filename", "description", "owner__email", "sha256")
    list_select_related = ("owner", "latest_run")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "original_filename",
        "owner",
        "description",
        "media_type",
        "mimetype",
        "size_display",
        "has_audio",
        "status",
        "latest_run",
        "stored_file",
        "sha256",
        "metadata_display",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(name for name in fields if name != "description")
    inlines = [AnalysisRunInline]
    actions = ("rerun",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Media arrive through the upload service, which stores, probes and starts the run.
        return False

    @admin.display(description="Latest verdict", ordering="latest_run__verdict")
    def latest_verdict(self, media: Media) -> str:
        return verdict_label(media.latest_run.verdict if media.latest_run else None)

    @admin.display(description="Size", ordering="size")
    def size_display(self, media: Media) -> str:
        return filesizeformat(media.size)

    @admin.display(description="Stored file")
    def stored_file(self, media: Media) -> str:
        """The storage key, linked to the API's download, which checks access (files are never
        served straight from storage)."""
        url = reverse("media-api:file", args=[media.pk])
        return format_html('<a href="{}">{}</a>', url, media.file.name)

    @admin.display(description="Metadata")
    def metadata_display(self, media: Media) -> str:
        return pretty_json(media.metadata)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            # Django's bulk delete (with its confirmation page) ends in `delete_queryset`, which
            # below goes through the service; the name says what it now does.
            function, name, _ = actions["delete_selected"]
            actions[name] = (function, name, "Delete selected media and their stored files")
        return actions

    def save_model(self, request: HttpRequest, obj: Media, form: Any, change: bool) -> None:
        """The description is the only editable field; the service validates and saves it."""
        media_update(media=obj, description=obj.description)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """Runs and analyses cannot be deleted on their own pages, but they always go with their
        media: deleting media needs no permission on them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        dependent = {AnalysisRun._meta.verbose_name, DeepfakeAnalysis._meta.verbose_name}
        return deleted, counts, perms_needed - dependent, protected

    def delete_model(self, request: HttpRequest, obj: Media) -> None:
        media_delete(media=obj, audit=audit_context_from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        audit = audit_context_from_request(request)
        for media in queryset:
            media_delete(media=media, audit=audit)

    @admin.action(description="Re-run analysis of selected media")
    def rerun(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        started = 0
        audit = audit_context_from_request(request)
        for media in queryset:
            try:
                run = run_start(media=media, audit=audit)
            except DomainError as exc:
                self.message_user(
                    request, f"{media.original_filename}: {exc.message}", messages.ERROR
                )
            else:
                started += 1
                self.message_user(
                    request, f"{media.original_filename}: run #{run.run_number} started."
                )
        if started:
            self.message_user(request, f"{started} run(s) started.", messages.SUCCESS)


@admin.register(AnalysisRun)
class AnalysisRunAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "media_link",
        "run_number",
        "status",
        "verdict_display",
        "fake_score",
        "agreement",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "verdict", "created_at")
    search_fields = ("media__original_filename", "media__owner__email")
    list_select_related = ("media",)
    date_hierarchy = "created_at"
    fields = (
        "id",
        "media_link",
        "run_number",
        "status",
        "verdict_display",
        "fake_score",
        "agreement",
        "verdict_now",
        "requested_models",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [DeepfakeAnalysisInline]
    actions = ("refinalize",)

    @admin.display(description="Media", ordering="media__original_filename")
    def media_link(self, run: AnalysisRun) -> str:
        url = reverse("admin:media_analysis_media_change", args=[run.media_id])
        return format_html('<a href="{}">{}</a>', url, run.media.original_filename)

    @admin.display(description="Verdict", ordering="verdict")
    def verdict_display(self, run: AnalysisRun) -> str:
        return verdict_label(run.verdict)

    @admin.display(description="Verdict from the analyses now")
    def verdict_now(self, run: AnalysisRun) -> str:
        """The verdict function applied to the analyses as they are now, beside the stored one:
        a difference means the run needs re-finalizing (say, after the thresholds changed)."""
        summary = verdict_compute(analyses=run.analyses.defer(*HEAVY_ANALYSIS_FIELDS))
        if summary.fake_score is None:
            return f"{summary.label}: {summary.reason}"
        return f"{summary.label} (fake score {summary.fake_score:.3f}): {summary.reason}"

    @admin.action(description="Re-finalize selected runs (recompute status and verdict)")
    def refinalize(self, request: HttpRequest, queryset: QuerySet[AnalysisRun]) -> None:
        for run in queryset:
            try:
                settled = run_resettle(run_id=run.pk)
            except DomainError as exc:
                self.message_user(request, f"{run}: {exc.message}", messages.ERROR)
                continue
            if settled.status in RunStatus.active():
                self.message_user(
                    request,
                    f"{run}: analyses are still pending or processing; the pipeline settles it "
                    "once they finish.",
                    messages.WARNING,
                )
            else:
                self.message_user(
                    request,
                    f"{run}: {run.status} → {settled.status}, "
                    f"verdict {verdict_label(settled.verdict)}.",
                )


@admin.register(DeepfakeAnalysis)
class DeepfakeAnalysisAdmin(ReadOnlyAdmin):
    list_display = (
        "model_name",
        "media_filename",
        "run",
        "status",
        "prediction",
        "confidence",
        "processing_time",
        "media_type",
        "created_at",
    )
    list_filter = ("status", "model_name", "media_type", "prediction")
    search_fields = ("model_name", "model_used", "run__media__original_filename")
    list_select_related = ("run__media",)
    date_hierarchy = "created_at"
    fields = (
        "id",
        "run",
        "model_name",
        "model_used",
        "status",
        "prediction",
        "confidence",
        "processing_time",
        "media_type",
        "attempts",
        "redispatches",
        "progress",
        "total",
        "error_message",
        "error_details_display",
        "result_payload_display",
        "task_id",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LightAnalysisChangeList

    @admin.display(description="Media", ordering="run__media__original_filename")
    def media_filename(self, analysis: DeepfakeAnalysis) -> str:
        return analysis.run.media.original_filename

    @admin.display(description="Error details")
    def error_details_display(self, analysis: DeepfakeAnalysis) -> str:
        return pretty_json(analysis.error_details)

    @admin.display(description="Result payload")
    def result_payload_display(self, analysis: DeepfakeAnalysis) -> str:
        return pretty_json(analysis.result_payload)


@admin.register(LinkImport)
class LinkImportAdmin(ReadOnlyAdmin):
    list_display = ("url", "owner", "status", "bytes_received", "created_at")
    list_filter = ("status",)
    search_fields = ("url", "owner__email")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    fields = (
        "id",
        "url",
        "owner",
        "status",
        "bytes_received",
        "error_message",
        "media",
        "description",
        "requested_models",
        "created_at",
        "updated_at",
    )


class EvaluationUploadForm(forms.ModelForm):
    archive = forms.FileField(
        help_text="A ZIP of media files with labels.csv (columns filename,label; label REAL or "
        "FAKE). Every item is uploaded as you and analysed by every compatible model."
    )

    class Meta:
        model = Evaluation
        fields = ("name",)

    def clean_archive(self) -> Any:
        """Refuse an archive the evaluation could not use before anything is stored."""
        archive = self.cleaned_data["archive"]
        try:
            with evaluation_set_open(source=archive) as (folder, labels):
                usable, _ = labels_read(labels=labels, folder=folder)
        except EvaluationSetInvalid as exc:
            raise forms.ValidationError(exc.message) from exc
        if not usable:
            raise forms.ValidationError("labels.csv lists no usable item.")
        archive.seek(0)
        return archive


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    """Upload a labelled set; once every run is final a housekeeping task stores, per model and
    media type, what the set measured, and this page shows it."""

    list_display = ("name", "status", "item_count", "created_by", "created_at", "finished_at")
    list_filter = ("status", "created_at")
    search_fields = ("name",)
    list_select_related = ("created_by",)
    detail_fields = (
        "name",
        "status",
        "item_count",
        "created_by",
        "created_at",
        "finished_at",
        "reliability_display",
        "skipped_display",
    )

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = EvaluationUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("name", "archive") if obj is None else self.detail_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else self.detail_fields

    def save_model(self, request: HttpRequest, obj: Evaluation, form: Any, change: bool) -> None:
        """The service creates the evaluation and ingests its items; the admin carries on with
        the row it created (its change page, its log entry)."""
        with evaluation_set_open(source=form.cleaned_data["archive"]) as (folder, labels):
            started = evaluation_start(
                name=obj.name,
                created_by=request.user,
                folder=folder,
                labels=labels,
                finish_later=True,
            )
        obj.pk = started.evaluation.pk
        obj.refresh_from_db()
        for skipped in started.skipped:
            self.message_user(
                request, f"Skipped {skipped.name}: {skipped.reason}", messages.WARNING
            )

    @admin.display(description="Measured per model")
    def reliability_display(self, evaluation: Evaluation) -> str:
        rows = reliability_rows(evaluation=evaluation)
        if not rows:
            running = evaluation.status == EvaluationStatus.RUNNING
            return "Not measured yet: the runs are still going." if running else EMPTY
        head = format_html_join("", "<th>{}</th>", ((column,) for column in COLUMNS))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)

    @admin.display(description="Skipped rows")
    def skipped_display(self, evaluation: Evaluation) -> str:
        if not evaluation.skipped:
            return EMPTY
        return format_html_join(
            "<br>", "{}: {}", ((row["name"], row["reason"]) for row in evaluation.skipped)
        )
