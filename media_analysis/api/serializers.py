"""Wire shapes of media, runs and analyses (camelCase, as the existing clients expect)."""

from __future__ import annotations

import functools

from rest_framework import serializers

from drishtiksha.api.casing import camelize_keys
from drishtiksha.api.serializers import CamelCaseModelSerializer, CamelCaseSerializer
from drishtiksha.http import public_base_url, reverse_for_id
from media_analysis.models import DESCRIPTION_MAX_LENGTH, AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.robustness import robustness_summary
from media_analysis.selectors import media_latest_run_from_runs

ANALYSIS_SUMMARY_FIELDS = [
    "id",
    "model_name",
    "model_used",
    "status",
    "prediction",
    "confidence",
    # Why the model found no evidence (status ABSTAINED, "No evidence"); empty otherwise.
    "abstain_reason",
    "processing_time",
    "media_type",
    "error_message",
    "progress",
    "total",
    "attempts",
    "started_at",
    "finished_at",
    "created_at",
    "updated_at",
]


class AnalysisSerializer(CamelCaseModelSerializer):
    """One model's analysis without its (possibly megabytes large) result payload."""

    class Meta:
        model = DeepfakeAnalysis
        fields = ANALYSIS_SUMMARY_FIELDS


class AnalysisDetailSerializer(CamelCaseModelSerializer):
    """With the inference server's whole answer (`resultPayload`, verbatim) and error details."""

    class Meta:
        model = DeepfakeAnalysis
        fields = [*ANALYSIS_SUMMARY_FIELDS, "error_details", "result_payload"]


RUN_FIELDS = [
    "id",
    "media_id",
    "run_number",
    "status",
    "verdict",
    "fake_score",
    "agreement",
    "verdict_reason",
    "verdict_details",
    "requested_models",
    "error_message",
    "created_at",
    "started_at",
    "finished_at",
    "report_url",
    "analyses",
]


class RunSerializer(CamelCaseModelSerializer):
    media_id = serializers.UUIDField(read_only=True)
    report_url = serializers.SerializerMethodField()
    analyses = AnalysisSerializer(many=True, read_only=True)
    # What each model contributed (weight, calibrated probability, measured reliability or
    # unvalidated) and the thresholds: our own document, so in the wire's casing.
    verdict_details = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRun
        fields = RUN_FIELDS

    def get_verdict_details(self, run: AnalysisRun) -> dict:
        return camelize_keys(run.verdict_details or {})

    def get_report_url(self, run: AnalysisRun) -> str:
        return reverse_for_id("media-api:run-report", "run_id", run.pk)


class RunDetailSerializer(RunSerializer):
    analyses = AnalysisDetailSerializer(many=True, read_only=True)

    class Meta:
        model = AnalysisRun
        fields = RUN_FIELDS


MEDIA_FIELDS = [
    "id",
    "filename",
    "url",
    "thumbnail_url",
    "mimetype",
    "size",
    "description",
    "status",
    "media_type",
    "has_audio",
    "metadata",
    "sha256",
    "user_id",
    "latest_analysis_run_id",
    "latest_run",
    "created_at",
    "updated_at",
]


class MediaSerializer(CamelCaseModelSerializer):
    """A media item with its latest run and that run's analyses (upload and re-run answers).

    `url` and `thumbnailUrl` are absolute when the request is known: a page served from another
    origin puts them straight into `<video src>` / `<img src>`, where a bare path would name that
    page's own origin.
    """

    filename = serializers.CharField(source="original_filename", read_only=True)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    user_id = serializers.UUIDField(source="owner_id", read_only=True)
    latest_analysis_run_id = serializers.UUIDField(source="latest_run_id", read_only=True)
    latest_run = RunSerializer(read_only=True)

    class Meta:
        model = Media
        fields = MEDIA_FIELDS

    def get_url(self, media: Media) -> str:
        return self._absolute(reverse_for_id("media-api:file", "media_id", media.pk))

    def get_thumbnail_url(self, media: Media) -> str | None:
        if not media.thumbnail:
            return None
        return self._absolute(reverse_for_id("media-api:thumbnail", "media_id", media.pk))

    def _absolute(self, path: str) -> str:
        return self._base_url + path

    @functools.cached_property
    def _base_url(self) -> str:
        """This response's origin ("" without a request): one lookup, not one per link."""
        request = self.context.get("request")
        if request is None:
            return ""
        return public_base_url(request).rstrip("/")


class MediaListSerializer(serializers.ListSerializer):
    """Items of `media_list_with_runs_for_user`: each latest run is taken from the item's
    prefetched runs, so it costs no query and is the same object as in `analysisRuns`."""

    def to_representation(self, data) -> list[dict]:
        items = list(data.all() if hasattr(data, "all") else data)
        media_latest_run_from_runs(items)
        return super().to_representation(items)


class MediaListItemSerializer(MediaSerializer):
    """A list item: the latest run as above, and every run (`analysisRuns`, newest first) with
    its analyses, without result payloads (the detail has them)."""

    analysis_runs = RunSerializer(source="runs", many=True, read_only=True)

    class Meta:
        model = Media
        fields = [*MEDIA_FIELDS, "analysis_runs"]
        list_serializer_class = MediaListSerializer


class MediaDetailSerializer(MediaSerializer):
    """Every run, newest first, with full analyses; `analyses` repeats the latest run's.

    `analysisRuns` is `runs` again under the name the existing clients read.

    `robustness` is null unless the upload asked for the check; then it says whether the verdict
    survived a re-encode (PENDING, STABLE, UNSTABLE or UNAVAILABLE) and links the copy.
    """

    latest_run = RunDetailSerializer(read_only=True)
    runs = RunDetailSerializer(many=True, read_only=True)
    analysis_runs = RunDetailSerializer(source="runs", many=True, read_only=True)
    analyses = serializers.SerializerMethodField()
    robustness = serializers.SerializerMethodField()
    derived_from = serializers.UUIDField(source="derived_from_id", read_only=True, allow_null=True)

    class Meta:
        model = Media
        fields = [
            *MEDIA_FIELDS,
            "runs",
            "analysis_runs",
            "analyses",
            "robustness",
            "derived_from",
            "derivation",
        ]

    def get_robustness(self, media: Media) -> dict | None:
        summary = robustness_summary(media=media)
        if summary is None:
            return None
        return {
            "state": summary.state,
            "stable": summary.stable,
            "text": summary.text,
            "derivation": summary.derivation,
            "copyId": str(summary.copy.pk) if summary.copy else None,
        }

    def get_analyses(self, media: Media) -> list[dict]:
        if media.latest_run is None:
            return []
        return AnalysisDetailSerializer(media.latest_run.analyses.all(), many=True).data


class UploadedMediaSerializer(MediaSerializer):
    duplicate_of = serializers.SerializerMethodField()

    class Meta:
        model = Media
        fields = [*MEDIA_FIELDS, "duplicate_of"]

    def get_duplicate_of(self, media: Media) -> str | None:
        duplicate = self.context.get("duplicate_of")
        return str(duplicate.pk) if duplicate is not None else None


class ModelNamesField(serializers.ListField):
    """Model names as a JSON list, repeated form fields, or one comma-separated string."""

    child = serializers.CharField(max_length=100)

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist") and self.field_name in dictionary:
            values = dictionary.getlist(self.field_name)
            return [name.strip() for value in values for name in str(value).split(",")]
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.split(",")
        names = [name.strip() for name in super().to_internal_value(data)]
        return list(dict.fromkeys(name for name in names if name))


class MediaUploadSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    media = serializers.FileField(required=False, allow_empty_file=True)
    file = serializers.FileField(required=False, allow_empty_file=True)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH, trim_whitespace=True
    )
    models = ModelNamesField(required=False)
    robustness_check = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also analyse a re-encoded copy and report whether the verdict is stable.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("media") and not attrs.get("file"):
            raise serializers.ValidationError(
                {"media": "No file was submitted: send it in the multipart field `media`."}
            )
        return attrs


class MediaUpdateSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    description = serializers.CharField(
        allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH, trim_whitespace=True
    )


class RunRequestSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    models = ModelNamesField(required=False)
