"""Media API (`/api/v1/media...`, `/api/v1/pdf/...`): validate → call a service → answer.

Every lookup goes through a selector scoped to the caller, so someone else's id, like a
malformed one, is simply 404.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from audit.services import audit_context_from_request
from drishtiksha.api.pagination import PAGE_PARAM, PAGE_SIZE_PARAM, EnvelopePagination
from drishtiksha.api.responses import ApiResponse
from drishtiksha.db import connection_give_back
from drishtiksha.errors import NotFound
from media_analysis.api.serializers import (
    MediaDetailSerializer,
    MediaListItemSerializer,
    MediaSerializer,
    MediaUpdateSerializer,
    MediaUploadSerializer,
    RunRequestSerializer,
    UploadedMediaSerializer,
)
from media_analysis.choices import MediaType, RunStatus, Verdict
from media_analysis.file_delivery import stored_file_response
from media_analysis.formats import accepted_formats_summary
from media_analysis.pipeline.start import run_start
from media_analysis.reports.pdf import run_report_content_disposition, run_report_pdf
from media_analysis.reports.selectors import run_get_for_report
from media_analysis.selectors import (
    media_filters_parse,
    media_get_for_file_access,
    media_get_for_user,
    media_list_with_runs_for_user,
)
from media_analysis.services.ingest import media_ingest
from media_analysis.services.media import media_delete, media_update

TAG = "media"


class UploadRateThrottle(UserRateThrottle):
    scope = "uploads"

    def get_rate(self) -> str:
        return settings.API_UPLOAD_THROTTLE_RATE

    def allow_request(self, request, view) -> bool:
        # Only uploads count; listing one's media is not limited here.
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class FileContentNegotiation(BaseContentNegotiation):
    """File downloads answer with the file's own type whatever `Accept` a player sends."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _filters_from_query(request: Request):
    params = request.query_params
    return media_filters_parse(
        media_type=params.get("mediaType", ""),
        status=params.get("status", ""),
        verdict=params.get("verdict", ""),
        search=params.get("search", ""),
        ordering=params.get("ordering", ""),
    )


# Headers of an unpaged list: how many items match, and whether the answer holds fewer.
TOTAL_COUNT_HEADER = "X-Total-Count"
TRUNCATED_HEADER = "X-List-Truncated"


def _paging_requested(request: Request) -> bool:
    return PAGE_PARAM in request.query_params or PAGE_SIZE_PARAM in request.query_params


class MediaListPagination(EnvelopePagination):
    """Pages when `page` or `pageSize` is given. Without either the list is a bare array of the
    first MEDIA_LIST_UNPAGED_LIMIT items, as clients written for an unpaged API iterate it."""

    def get_paginated_response_schema(self, schema: dict) -> dict:
        unpaged = {
            **schema,
            "description": "Without page and pageSize: at most MEDIA_LIST_UNPAGED_LIMIT items"
            f" (see the {TOTAL_COUNT_HEADER} and {TRUNCATED_HEADER} headers).",
        }
        return {"oneOf": [unpaged, super().get_paginated_response_schema(schema)]}


class MediaCollectionView(GenericAPIView):
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [UploadRateThrottle]
    pagination_class = MediaListPagination

    def get_serializer_class(self):
        # DRF's OPTIONS metadata describes the POST body with this; without it OPTIONS was a 500.
        if self.request is not None and self.request.method == "POST":
            return MediaUploadSerializer
        return MediaListItemSerializer

    @extend_schema(
        tags=[TAG],
        parameters=[
            OpenApiParameter("mediaType", str, enum=MediaType.values),
            OpenApiParameter("status", str, enum=RunStatus.values),
            OpenApiParameter("verdict", str, enum=Verdict.values),
            OpenApiParameter("search", str, description="Matches filename or description."),
            OpenApiParameter(
                "ordering",
                str,
                description="createdAt, filename, size or status; prefix '-' for descending.",
            ),
        ],
        responses={200: MediaListItemSerializer(many=True)},
    )
    def get(self, request: Request) -> ApiResponse:
        """The caller's media, newest first, each with its latest run and every run's analyses.

        With `page` or `pageSize`: `{results, count, page, pageSize, totalPages}`. Without: an
        array of at most MEDIA_LIST_UNPAGED_LIMIT items, `X-Total-Count` saying how many match and
        `X-List-Truncated` whether some were left out.
        """
        queryset = media_list_with_runs_for_user(
            user=request.user, filters=_filters_from_query(request)
        )
        context = {"request": request}
        if _paging_requested(request):
            page = self.paginate_queryset(queryset)
            return self.paginator.get_paginated_response(
                MediaListItemSerializer(page, many=True, context=context).data,
                message="Media retrieved",
            )
        limit = settings.MEDIA_LIST_UNPAGED_LIMIT
        total = queryset.count()
        items = MediaListItemSerializer(queryset[:limit], many=True, context=context).data
        truncated = total > limit
        message = (
            f"Media retrieved: the first {limit} of {total}; ask with page and pageSize for the"
            " rest."
            if truncated
            else "Media retrieved"
        )
        return ApiResponse(
            items,
            message=message,
            headers={
                TOTAL_COUNT_HEADER: str(total),
                TRUNCATED_HEADER: "true" if truncated else "false",
            },
        )

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": MediaUploadSerializer},
        responses={
            202: UploadedMediaSerializer,
            413: OpenApiResponse(description="The file is larger than MAX_UPLOAD_SIZE."),
            415: OpenApiResponse(description="Unsupported type, or extension and content differ."),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        """Upload a video, image or audio file; analysis run #1 starts at once (202)."""
        connection_give_back()  # while the body arrives
        serializer = MediaUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        upload = values.get("media") or values.get("file")
        result = media_ingest(
            owner=request.user,
            upload=upload,
            filename=upload.name or "",
            description=values.get("description", ""),
            model_names=values.get("models") or None,
            robustness_check=values.get("robustness_check", False),
            audit=audit_context_from_request(request),
        )
        data = UploadedMediaSerializer(
            result.media, context={"duplicate_of": result.duplicate_of, "request": request}
        ).data
        return ApiResponse(data, message="Media uploaded; analysis queued", status=202)


class MediaDetailView(APIView):
    @extend_schema(tags=[TAG], responses={200: MediaDetailSerializer})
    def get(self, request: Request, media_id) -> ApiResponse:
        """One media item with every run (newest first) and their analyses."""
        media = media_get_for_user(user=request.user, media_id=media_id)
        data = MediaDetailSerializer(media, context={"request": request}).data
        return ApiResponse(data, message="Media retrieved")

    @extend_schema(tags=[TAG], request=MediaUpdateSerializer, responses={200: MediaSerializer})
    def patch(self, request: Request, media_id) -> ApiResponse:
        """Change the description; it is the only field that can be changed."""
        media = media_get_for_user(user=request.user, media_id=media_id)
        serializer = MediaUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        media = media_update(media=media, description=serializer.validated_data["description"])
        data = MediaSerializer(media, context={"request": request}).data
        return ApiResponse(data, message="Media updated")

    @extend_schema(tags=[TAG], responses={200: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, media_id) -> ApiResponse:
        """Delete the media, its runs and analyses, and its stored files."""
        media = media_get_for_user(user=request.user, media_id=media_id)
        media_delete(media=media, audit=audit_context_from_request(request))
        return ApiResponse({"id": str(media_id)}, message="Media deleted")


class MediaAnalyzeView(APIView):
    @extend_schema(
        tags=[TAG],
        request=RunRequestSerializer,
        responses={
            202: MediaSerializer,
            409: OpenApiResponse(description="A run is already queued or processing."),
        },
    )
    def post(self, request: Request, media_id) -> ApiResponse:
        """Analyse again: a new run with the next run number (optionally only some models)."""
        media = media_get_for_user(user=request.user, media_id=media_id)
        serializer = RunRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The answer is read inside the transaction, before the commit releases the chord: it
        # shows the run as queued, never half-way through what a fast worker made of it.
        with transaction.atomic():
            run_start(
                media=media,
                model_names=serializer.validated_data.get("models") or None,
                audit=audit_context_from_request(request),
            )
            media = media_get_for_user(user=request.user, media_id=media_id)
            data = MediaSerializer(media, context={"request": request}).data
        return ApiResponse(data, message="Analysis queued", status=202)


class _StoredFileView(APIView):
    content_negotiation_class = FileContentNegotiation

    def stored_name_and_type(self, media) -> tuple[str, str]:
        raise NotImplementedError

    @extend_schema(
        tags=[TAG],
        parameters=[OpenApiParameter("download", bool, description="Send as an attachment.")],
        responses={(200, "*/*"): OpenApiTypes.BINARY, (206, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, media_id) -> HttpResponse:
        media = media_get_for_file_access(user=request.user, media_id=media_id)
        name, content_type = self.stored_name_and_type(media)
        if not name:
            raise NotFound("This media has no such file.")
        download = request.query_params.get("download") in {"1", "true", "yes"}
        return stored_file_response(
            name=name,
            content_type=content_type,
            range_header=request.META.get("HTTP_RANGE", ""),
            download_name=media.original_filename if download else None,
        )


class MediaFileView(_StoredFileView):
    """The original file, to its owner (and staff), with Range support for seeking."""

    def stored_name_and_type(self, media) -> tuple[str, str]:
        return media.file.name, media.mimetype


class MediaThumbnailView(_StoredFileView):
    """The poster thumbnail of a video or image."""

    def stored_name_and_type(self, media) -> tuple[str, str]:
        return media.thumbnail.name, "image/jpeg"


class UploadRulesView(APIView):
    @extend_schema(tags=[TAG], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> ApiResponse:
        """What an upload may be: accepted extensions per media type and the size limit."""
        return ApiResponse(
            {"maxUploadSize": settings.MAX_UPLOAD_SIZE, "formats": accepted_formats_summary()},
            message="Upload rules",
        )


class RunReportView(APIView):
    content_negotiation_class = FileContentNegotiation

    @extend_schema(tags=["reports"], responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, run_id) -> HttpResponse:
        """A PDF report of one run, as an attachment (owner or staff)."""
        run = run_get_for_report(user=request.user, run_id=run_id)
        response = HttpResponse(run_report_pdf(run=run), content_type="application/pdf")
        response["Content-Disposition"] = run_report_content_disposition(run=run)
        response["Cache-Control"] = "private, no-store"
        return response
