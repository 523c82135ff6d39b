"""The one vocabulary of statuses, media types, predictions and verdicts.

Models, API, templates and progress events all use these; nothing else spells them out.
"""

from django.db import models


class MediaType(models.TextChoices):
    VIDEO = "VIDEO", "Video"
    IMAGE = "IMAGE", "Image"
    AUDIO = "AUDIO", "Audio"
    UNKNOWN = "UNKNOWN", "Unknown"


class RunStatus(models.TextChoices):
    """Status of a run, and of a media item (which mirrors its latest run)."""

    QUEUED = "QUEUED", "Queued"
    PROCESSING = "PROCESSING", "Processing"
    ANALYZED = "ANALYZED", "Analyzed"
    PARTIALLY_ANALYZED = "PARTIALLY_ANALYZED", "Partially analyzed"
    FAILED = "FAILED", "Failed"

    @classmethod
    def active(cls) -> tuple[str, ...]:
        return (cls.QUEUED, cls.PROCESSING)

    @classmethod
    def final(cls) -> tuple[str, ...]:
        return (cls.ANALYZED, cls.PARTIALLY_ANALYZED, cls.FAILED)


class AnalysisStatus(models.TextChoices):
    """Status of one model's analysis within a run."""

    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    COMPLETED = "COMPLETED", "Completed"
    # The model looked and found nothing it can judge by (no metadata, a format it cannot read):
    # its own outcome, neither a prediction nor a failure, and left out of the verdict.
    ABSTAINED = "ABSTAINED", "No evidence"
    FAILED = "FAILED", "Failed"

    @classmethod
    def final(cls) -> tuple[str, ...]:
        return (cls.COMPLETED, cls.ABSTAINED, cls.FAILED)


class Prediction(models.TextChoices):
    REAL = "REAL", "Real"
    FAKE = "FAKE", "Fake"


class Verdict(models.TextChoices):
    FAKE = "FAKE", "Likely deepfake"
    REAL = "REAL", "Likely authentic"
    INCONCLUSIVE = "INCONCLUSIVE", "Inconclusive"
