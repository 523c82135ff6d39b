"""Audit API (`GET /api/v1/audit`): the caller's own trail, newest first, paginated."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from audit.api.serializers import AuditEventSerializer
from audit.models import AuditAction
from audit.selectors import audit_events_for_owner, audit_filters_parse
from drishtiksha.api.pagination import EnvelopePagination
from drishtiksha.api.responses import ApiResponse

TAG = "audit"
RANGE_HELP = (
    "A date (2026-01-31, the whole day in the server's time zone) or an ISO 8601 date and time."
)


class AuditEventCollectionView(GenericAPIView):
    pagination_class = EnvelopePagination
    serializer_class = AuditEventSerializer

    @extend_schema(
        tags=[TAG],
        parameters=[
            OpenApiParameter("action", str, enum=AuditAction.values),
            OpenApiParameter("since", str, description=f"Rows from this moment. {RANGE_HELP}"),
            OpenApiParameter("until", str, description=f"Rows up to this moment. {RANGE_HELP}"),
        ],
        responses={200: AuditEventSerializer(many=True)},
    )
    def get(self, request: Request) -> ApiResponse:
        """What was done to the caller's data, by whom and how: uploads, runs, deletions, share
        links, API keys and webhooks."""
        query = request.query_params
        filters = audit_filters_parse(
            action=query.get("action", ""),
            since=query.get("since", ""),
            until=query.get("until", ""),
        )
        page = self.paginate_queryset(audit_events_for_owner(owner=request.user, filters=filters))
        data = AuditEventSerializer(page, many=True, context={"request": request}).data
        return self.paginator.get_paginated_response(data, message="Audit events retrieved")
