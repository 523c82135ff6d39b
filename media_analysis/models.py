"""Media, their versioned analysis runs, and one analysis row per (run, model)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict

# The evaluation rows belong to this app; their module lives beside the code that fills them.
from media_analysis.evaluation.models import (
    Evaluation,
    EvaluationItem,
    EvaluationStatus,
    ModelReliability,
)

__all__ = [
    "AnalysisRun",
    "DeepfakeAnalysis",
    "Evaluation",
    "EvaluationItem",
    "EvaluationStatus",
    "LinkImport",
    "LinkImportStatus",
    "Media",
    "ModelReliability",
    "ShareLink",
]

DESCRIPTION_MAX_LENGTH = 500
MODEL_NAME_MAX_LENGTH = 100
SOURCE_URL_MAX_LENGTH = 2048


class Media(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media"
    )
    original_filename = models.CharField(
        max_length=255, help_text="The name the file was uploaded with; for display only."
    )
    # Stored under a key the service chooses (`videos/<uuid>.mp4`), never a user-supplied path.
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255, blank=True)
    mimetype = models.CharField(max_length=100)
    size = models.BigIntegerField(help_text="Bytes.")
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    media_type = models.CharField(
        max_length=10, choices=MediaType.choices, default=MediaType.UNKNOWN
    )
    has_audio = models.BooleanField(null=True, blank=True, help_text="Video only; null otherwise.")
    metadata = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    latest_run = models.ForeignKey(
        "AnalysisRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The robustness check: a re-encoded copy of an upload is analysed as media of its own, kept
    # out of the library, to show whether the original's verdict survives a re-encode.
    robustness_requested = models.BooleanField(
        default=False, help_text="A re-encoded copy is (to be) analysed beside this media."
    )
    derived_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="derived_copies",
        help_text="For a robustness copy: the upload it was re-encoded from.",
    )
    derivation = models.CharField(
        max_length=120, blank=True, help_text="How the copy was made, in plain words."
    )
    source_url = models.URLField(
        max_length=SOURCE_URL_MAX_LENGTH,
        blank=True,
        help_text="For media fetched from a link: the address it was submitted as.",
    )
    # Null from the upload until a worker has probed the stored file and made its poster (see
    # `services.prepare`): the upload is answered after the cheap checks, the heavy ones follow.
    prepared_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        help_text="When the file passed its probe and got its poster; empty until then.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "media"
        ordering = ["-created_at"]
        indexes = [
            # The library's default order, robustness copies left out as the library leaves them.
            models.Index(
                fields=["owner", "-created_at", "-id"],
                name="media_library_idx",
                condition=models.Q(derived_from__isnull=True),
            ),
            models.Index(fields=["owner", "sha256"], name="media_owner_sha256_idx"),
        ]

    def __str__(self) -> str:
        return self.original_filename


class AnalysisRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    media = models.ForeignKey(Media, on_delete=models.CASCADE, related_name="runs")
    run_number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_models = models.JSONField(
        default=list, blank=True, help_text="Model names asked for; empty means all compatible."
    )
    verdict = models.CharField(max_length=15, choices=Verdict.choices, null=True, blank=True)
    fake_score = models.FloatField(
        null=True, blank=True, help_text="Mean fake probability over completed analyses."
    )
    agreement = models.FloatField(
        null=True, blank=True, help_text="Share of completed analyses agreeing with the verdict."
    )
    # Why the verdict is what it is, in plain words (e.g. why it is INCONCLUSIVE), and what each
    # model contributed (weight, calibrated probability, measured reliability or "unvalidated").
    verdict_reason = models.TextField(blank=True)
    verdict_details = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-run_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["media", "run_number"], name="run_number_unique_per_media"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="run_status_created_idx")]

    def __str__(self) -> str:
        return f"Run #{self.run_number} of {self.media_id}"


class DeepfakeAnalysis(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="analyses")
    # A plain string, never an enum: models appear on the inference server without notice.
    model_name = models.CharField(max_length=MODEL_NAME_MAX_LENGTH)
    model_used = models.CharField(
        max_length=MODEL_NAME_MAX_LENGTH,
        blank=True,
        help_text="The model that actually answered; the server may fall back to another one.",
    )
    # Kept from the server's model list when the run starts, so that the report pages and the PDF
    # can say what the detector measures after the server is gone or has changed its models.
    model_description = models.TextField(
        blank=True, help_text="The inference server's description of the model, as of the run."
    )
    prediction = models.CharField(max_length=4, choices=Prediction.choices, null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=AnalysisStatus.choices, default=AnalysisStatus.PENDING
    )
    abstain_reason = models.TextField(
        blank=True, help_text="Why the model found no evidence to judge by (status ABSTAINED)."
    )
    error_message = models.TextField(blank=True)
    error_details = models.JSONField(default=dict, blank=True)
    processing_time = models.FloatField(null=True, blank=True, help_text="Seconds.")
    media_type = models.CharField(max_length=10, choices=MediaType.choices, null=True, blank=True)
    result_payload = models.JSONField(null=True, blank=True)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    redispatches = models.PositiveSmallIntegerField(
        default=0, help_text="Times the stuck-run reaper sent this analysis again."
    )
    task_id = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deepfake analyses"
        ordering = ["model_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "model_name"], name="analysis_unique_model_per_run"
            ),
        ]
        indexes = [
            models.Index(fields=["model_name"], name="analysis_model_name_idx"),
            models.Index(fields=["processing_time"], name="analysis_processing_time_idx"),
            models.Index(fields=["media_type"], name="analysis_media_type_idx"),
            models.Index(fields=["confidence"], name="analysis_confidence_idx"),
            models.Index(fields=["status", "updated_at"], name="analysis_status_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} ({self.status})"


class ShareLink(models.Model):
    """Read-only access to one run's report and PDF for whoever holds the link.

    Only a hash of the token is stored: the link is shown once, when it is made, like a password.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True, help_text="Who the link is for.")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label or f"Share link of {self.run}"


class LinkImportStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    DOWNLOADING = "DOWNLOADING", "Downloading"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class LinkImport(models.Model):
    """A link submitted for analysis: fetched by a worker, then ingested like an upload."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="link_imports"
    )
    url = models.URLField(max_length=SOURCE_URL_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    requested_models = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=LinkImportStatus.choices, default=LinkImportStatus.QUEUED
    )
    bytes_received = models.BigIntegerField(default=0)
    error_message = models.TextField(blank=True)
    media = models.ForeignKey(
        Media, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="link_import_owner_idx")]

    def __str__(self) -> str:
        return self.url
