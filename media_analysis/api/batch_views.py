"""Batch upload (`POST /api/v1/media/batch`): several files in one request, each its own media.

Each file goes through `media_ingest` exactly as a single upload does and gets its own result, so
one refused file (wrong type, too large, over the upload rate) does not stop the others. The
body still streams to disk as it arrives; it has a limit of its own (UPLOAD_BATCH_MAX_BYTES, see
`drishtiksha.asgi_limits`), while every file in it keeps the MAX_UPLOAD_SIZE of a single upload.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.services import audit_context_from_request
from drishtiksha.api.responses import ApiResponse
from drishtiksha.api.serializers import CamelCaseSerializer
from drishtiksha.db import connection_give_back
from drishtiksha.errors import DomainError, TooManyRequests, ValidationFailed
from media_analysis.api.serializers import ModelNamesField, UploadedMediaSerializer
from media_analysis.api.views import TAG, UploadRateThrottle
from media_analysis.batch import BatchPart, BatchUploadHandler, batch_error_code
from media_analysis.models import DESCRIPTION_MAX_LENGTH
from media_analysis.services.ingest import media_ingest
from media_analysis.uploads import upload_too_large_error

UPLOADED_STATUS = 202


class PeekUploadRateThrottle(UploadRateThrottle):
    """Refuses the whole batch when not even one more upload is allowed, and records nothing:
    each file then counts against the same rate as it is stored."""

    def throttle_success(self) -> bool:
        return True


class MediaBatchUploadSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    media = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        help_text="The files, one multipart part each (`file` is accepted too).",
    )
    file = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH, trim_whitespace=True
    )
    models = ModelNamesField(required=False)
    robustness_check = serializers.BooleanField(required=False, default=False)


class BatchFileErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="e.g. unsupported_media_type, payload_too_large.")
    message = serializers.CharField()


class BatchFileResultSerializer(serializers.Serializer):
    filename = serializers.CharField()
    status = serializers.IntegerField(help_text="202 when stored, else the file's own 4xx.")
    media = UploadedMediaSerializer(required=False)
    error = BatchFileErrorSerializer(required=False)


class BatchUploadResultSerializer(serializers.Serializer):
    results = BatchFileResultSerializer(many=True)
    uploaded = serializers.IntegerField()
    failed = serializers.IntegerField()


def _rate_limited_error(throttle: UploadRateThrottle) -> TooManyRequests:
    wait = max(1, round(throttle.wait() or 1))
    return TooManyRequests(f"Upload limit reached: try again in {wait} s.", retry_after=wait)


class MediaBatchUploadView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [PeekUploadRateThrottle]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Before authentication, whose CSRF check may read the body.
        self.batch_handler = BatchUploadHandler(request._request)
        request._request.upload_handlers = [self.batch_handler]
        super().initial(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": MediaBatchUploadSerializer},
        responses={
            207: BatchUploadResultSerializer,
            400: OpenApiResponse(description="No file, or more than UPLOAD_BATCH_MAX_FILES."),
            413: OpenApiResponse(description="The body is larger than UPLOAD_BATCH_MAX_BYTES."),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        """Upload several files at once: each becomes its own media with run #1 queued.

        Answers 207 with one result per file, in the order sent: `status` 202 and `media` for a
        stored file, or its own 4xx and `error: {code, message}`. Each file counts against the
        upload rate (API_UPLOAD_THROTTLE_RATE) like a single upload.
        """
        connection_give_back()  # while the body arrives
        serializer = MediaBatchUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        parts = self.batch_handler.parts
        if not parts:
            message = "No file was submitted: send each file in a multipart field `media`."
            raise ValidationFailed(message, field_errors={"media": message})
        results = [self._result(request, part=part, values=values) for part in parts]
        uploaded = sum(result["status"] == UPLOADED_STATUS for result in results)
        return ApiResponse(
            {"results": results, "uploaded": uploaded, "failed": len(results) - uploaded},
            message=f"{uploaded} of {len(results)} files uploaded",
            status=207,
        )

    def _result(self, request: Request, *, part: BatchPart, values: dict) -> dict:
        try:
            if part.too_large or part.upload is None:
                raise upload_too_large_error()
            throttle = UploadRateThrottle()
            if not throttle.allow_request(request, self):
                raise _rate_limited_error(throttle)
            ingested = media_ingest(
                owner=request.user,
                upload=part.upload,
                filename=part.filename or "",
                description=values.get("description", ""),
                model_names=values.get("models") or None,
                robustness_check=values.get("robustness_check", False),
                audit=audit_context_from_request(request),
            )
        except DomainError as error:
            return {
                "filename": part.filename,
                "status": error.status_code,
                "error": {"code": batch_error_code(error), "message": error.message},
            }
        media = UploadedMediaSerializer(
            ingested.media, context={"duplicate_of": ingested.duplicate_of, "request": request}
        ).data
        return {"filename": part.filename, "status": UPLOADED_STATUS, "media": media}
