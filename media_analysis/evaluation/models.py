"""An evaluation, its labelled items, and what it measured per (model, media type).

Part of the `media_analysis` app (imported by `media_analysis.models`): the rows point at media
and runs, and the verdict reads them, so one app keeps them free of import cycles.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from media_analysis.choices import MediaType, Prediction

MODEL_NAME_MAX_LENGTH = 100


class EvaluationStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    FINISHED = "FINISHED", "Finished"
    # Closed after EVALUATION_TIMEOUT_SECONDS with runs still open; those count as failed.
    TIMED_OUT = "TIMED_OUT", "Timed out"


class Evaluation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # The account whose uploads the items are; the evaluation's media appear in its library.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="evaluations",
    )
    status = models.CharField(
        max_length=10, choices=EvaluationStatus.choices, default=EvaluationStatus.RUNNING
    )
    item_count = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(
        default=list, blank=True, help_text="Rows not ingested, each with the reason."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "media_analysis"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class EvaluationItem(models.Model):
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="items")
    media = models.ForeignKey(
        "media_analysis.Media", on_delete=models.CASCADE, related_name="evaluation_items"
    )
    # The run the upload started: re-running the media later must not change what was measured.
    run = models.ForeignKey(
        "media_analysis.AnalysisRun", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    label = models.CharField(max_length=4, choices=Prediction.choices)
    source_name = models.CharField(max_length=255, help_text="The file's name in the set.")

    class Meta:
        app_label = "media_analysis"
        ordering = ["source_name"]

    def __str__(self) -> str:
        return f"{self.source_name} ({self.label})"


class ModelReliability(models.Model):
    """How one model did on one media type of one evaluation.

    `count` is the number of completed analyses the metrics are computed over; abstained and
    failed ones are counted apart and left out. FAKE is the positive class; accuracy, precision
    and recall judge the model's own predictions.
    """

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="reliabilities"
    )
    model_name = models.CharField(max_length=MODEL_NAME_MAX_LENGTH)
    media_type = models.CharField(max_length=10, choices=MediaType.choices)
    count = models.PositiveIntegerField()
    abstained = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    auc = models.FloatField(null=True, blank=True, help_text="None when only one class occurred.")
    accuracy = models.FloatField(null=True, blank=True)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    thresholds = models.JSONField(
        default=dict, blank=True, help_text="The decision rule and verdict thresholds in force."
    )
    reliability_table = models.JSONField(
        default=list,
        blank=True,
        help_text="Per bin: lower, upper, count, fakes, mean_predicted, observed_fake_rate.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "media_analysis"
        verbose_name_plural = "model reliabilities"
        ordering = ["model_name", "media_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "model_name", "media_type"],
                name="reliability_unique_per_evaluation",
            ),
        ]
        indexes = [
            models.Index(
                fields=["model_name", "media_type", "-created_at"],
                name="reliability_latest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} on {self.media_type} ({self.evaluation})"
