"""Share links over the API: `GET/POST /api/v1/runs/<run_id>/share-links` and
`DELETE /api/v1/share-links/<id>`.

The token is in the answer to the POST only; lists carry no token (only its hash is stored).
Someone else's run or link, like an unknown id, is 404.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.services import audit_context_from_request
from drishtiksha.api.pagination import EnvelopePagination
from drishtiksha.api.responses import ApiResponse
from drishtiksha.api.serializers import CamelCaseModelSerializer, CamelCaseSerializer
from media_analysis.models import ShareLink
from media_analysis.selectors import run_get_for_user
from media_analysis.services.sharing import (
    share_link_create,
    share_link_get_for_user,
    share_link_list_for_run,
    share_link_revoke,
    share_link_status,
)
from media_analysis.share_views import share_url

TAG = "share links"


class ShareLinkSerializer(CamelCaseModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = ShareLink
        fields = [
            "id",
            "run",
            "label",
            "status",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_viewed_at",
            "view_count",
        ]

    def get_status(self, link: ShareLink) -> str:
        return share_link_status(link)


class ShareLinkCreatedSerializer(ShareLinkSerializer):
    token = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta(ShareLinkSerializer.Meta):
        fields = [*ShareLinkSerializer.Meta.fields, "token", "url"]

    def get_token(self, link: ShareLink) -> str:
        return self.context["token"]

    def get_url(self, link: ShareLink) -> str:
        return share_url(self.context["request"], self.context["token"])


class ShareLinkCreateSerializer(CamelCaseSerializer):
    label = serializers.CharField(
        max_length=ShareLink._meta.get_field("label").max_length, required=False, allow_blank=True
    )
    expires_in_days = serializers.IntegerField(min_value=1, required=False)

    def validate_expires_in_days(self, value: int) -> int:
        if value > settings.SHARE_LINK_MAX_DAYS:
            raise serializers.ValidationError(
                f"At most {settings.SHARE_LINK_MAX_DAYS} days.", code="max_value"
            )
        return value


class RunShareLinksView(GenericAPIView):
    pagination_class = EnvelopePagination
    serializer_class = ShareLinkSerializer

    @extend_schema(tags=[TAG], responses={200: ShareLinkSerializer(many=True)})
    def get(self, request: Request, run_id) -> ApiResponse:
        """The run's share links, newest first, active or not; without tokens."""
        run = run_get_for_user(user=request.user, run_id=run_id)
        page = self.paginate_queryset(share_link_list_for_run(run=run))
        return self.paginator.get_paginated_response(
            ShareLinkSerializer(page, many=True).data, message="Share links retrieved"
        )

    @extend_schema(
        tags=[TAG],
        request=ShareLinkCreateSerializer,
        responses={
            201: ShareLinkCreatedSerializer,
            409: OpenApiResponse(description="The run has its maximum of active links."),
        },
    )
    def post(self, request: Request, run_id) -> ApiResponse:
        """A new read-only link to the run's report and PDF; its token is shown only here."""
        run = run_get_for_user(user=request.user, run_id=run_id)
        serializer = ShareLinkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        days = values.get("expires_in_days") or settings.SHARE_LINK_DEFAULT_DAYS
        link, token = share_link_create(
            run=run,
            created_by=request.user,
            label=values.get("label", ""),
            expires_in=timedelta(days=days),
            audit=audit_context_from_request(request),
        )
        data = ShareLinkCreatedSerializer(link, context={"request": request, "token": token}).data
        response = ApiResponse(data, message="Share link created", status=201)
        response["Cache-Control"] = "no-store, private"
        return response


class ShareLinkDetailView(APIView):
    @extend_schema(tags=[TAG], responses={204: None})
    def delete(self, request: Request, link_id) -> ApiResponse:
        """Revoke the link: from now on it opens nothing (the list still shows it, revoked)."""
        link = share_link_get_for_user(user=request.user, link_id=link_id)
        share_link_revoke(link=link, audit=audit_context_from_request(request))
        return ApiResponse(status=204)
