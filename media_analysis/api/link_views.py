"""Analyse a link over the API: `POST /api/v1/media/from-url`, `GET /api/v1/media/imports[/<id>]`.

The POST answers 202 once the link is queued; the download runs in a worker, and the import's
`status` says how it went (`mediaId` once it became media). Someone else's import is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.services import audit_context_from_request
from drishtiksha.api.pagination import EnvelopePagination
from drishtiksha.api.responses import ApiResponse
from drishtiksha.api.serializers import CamelCaseModelSerializer, CamelCaseSerializer
from media_analysis.api.serializers import ModelNamesField
from media_analysis.api.views import UploadRateThrottle
from media_analysis.models import DESCRIPTION_MAX_LENGTH, SOURCE_URL_MAX_LENGTH, LinkImport
from media_analysis.services.links import (
    link_import_create,
    link_import_get_for_user,
    link_import_list_for_user,
)

TAG = "media"


class LinkImportSerializer(CamelCaseModelSerializer):
    media_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = LinkImport
        fields = [
            "id",
            "url",
            "description",
            "status",
            "bytes_received",
            "error_message",
            "media_id",
            "created_at",
            "updated_at",
        ]


class LinkImportCreateSerializer(CamelCaseSerializer):
    reject_unknown_fields = True

    url = serializers.CharField(max_length=SOURCE_URL_MAX_LENGTH, trim_whitespace=True)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH, trim_whitespace=True
    )
    models = ModelNamesField(required=False)


class LinkImportCollectionView(GenericAPIView):
    pagination_class = EnvelopePagination
    serializer_class = LinkImportSerializer

    @extend_schema(tags=[TAG], responses={200: LinkImportSerializer(many=True)})
    def get(self, request: Request) -> ApiResponse:
        """The caller's link imports, newest first."""
        page = self.paginate_queryset(link_import_list_for_user(user=request.user))
        return self.paginator.get_paginated_response(
            LinkImportSerializer(page, many=True).data, message="Link imports retrieved"
        )


class LinkImportCreateView(APIView):
    throttle_classes = [UploadRateThrottle]

    @extend_schema(
        tags=[TAG],
        request=LinkImportCreateSerializer,
        responses={
            202: LinkImportSerializer,
            400: OpenApiResponse(
                description="Not an http(s) URL, or its host is not a public internet address."
            ),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        """Analyse the media file at a URL: a worker downloads it and ingests it as an upload.

        Follow the answer's `id` at `/api/v1/media/imports/<id>`: `status` goes QUEUED →
        DOWNLOADING → DONE (with `mediaId`) or FAILED (with `errorMessage`).
        """
        serializer = LinkImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        link_import = link_import_create(
            owner=request.user,
            url=values["url"],
            description=values.get("description", ""),
            model_names=values.get("models") if "models" in values else None,
            audit=audit_context_from_request(request),
        )
        data = LinkImportSerializer(link_import).data
        return ApiResponse(data, message="Link queued for download", status=202)


class LinkImportDetailView(APIView):
    @extend_schema(tags=[TAG], responses={200: LinkImportSerializer})
    def get(self, request: Request, import_id) -> ApiResponse:
        """One link import of the caller's."""
        link_import = link_import_get_for_user(user=request.user, link_import_id=import_id)
        return ApiResponse(LinkImportSerializer(link_import).data, message="Link import retrieved")
