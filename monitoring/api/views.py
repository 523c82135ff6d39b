"""Monitoring API (`/api/v1/monitoring/...`): staff only; validate → selector or service → answer.

Anonymous callers get 401 and authenticated non-admins 403 on every endpoint (`IsStaffRole`).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import IsStaffRole
from drishtiksha.api.responses import ApiResponse
from media_analysis.pipeline.reaper import runs_reap
from monitoring.analytics import (
    ANALYTICS_DAYS_MIN,
    DAYS_PARAMETER,
    analytics_days_parse,
    analytics_get,
)
from monitoring.api.serializers import (
    AnalyticsSerializer,
    HistoryQuerySerializer,
    QueueStatusSerializer,
    ReapResultSerializer,
    ServerHealthSerializer,
    ServerStatusSerializer,
    StatusFixSerializer,
    StatusReportSerializer,
)
from monitoring.consistency import status_inconsistencies_list, statuses_fix
from monitoring.health import server_history_list, server_status_get
from monitoring.queues import queue_status_get

TAG = "monitoring"
DAYS_QUERY = OpenApiParameter(
    DAYS_PARAMETER,
    {"type": "integer", "minimum": ANALYTICS_DAYS_MIN},
    OpenApiParameter.QUERY,
    description="Whole calendar days, today included (default MONITORING_ANALYTICS_DEFAULT_DAYS,"
    " at most MONITORING_ANALYTICS_MAX_DAYS).",
)


class StaffAPIView(APIView):
    permission_classes = [IsStaffRole]


class ServerStatusView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="The inference server's /stats, asked now",
        responses={
            200: ServerStatusSerializer,
            503: OpenApiResponse(description="The inference server refused or is down."),
            504: OpenApiResponse(description="The inference server did not answer in time."),
        },
    )
    def get(self, request: Request) -> ApiResponse:
        status = server_status_get()
        return ApiResponse(
            ServerStatusSerializer(status).data, message="Inference server status retrieved"
        )


class ServerHistoryView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Health checks of the inference server, newest first",
        parameters=[HistoryQuerySerializer],
        responses={200: ServerHealthSerializer(many=True)},
    )
    def get(self, request: Request) -> ApiResponse:
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        history = server_history_list(limit=query.validated_data["limit"])
        return ApiResponse(
            ServerHealthSerializer(history, many=True).data, message="Server history retrieved"
        )


class QueueStatusView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Jobs pending, active, delayed, and finished recently",
        responses={
            200: QueueStatusSerializer,
            503: OpenApiResponse(description="The message broker cannot be reached."),
        },
    )
    def get(self, request: Request) -> ApiResponse:
        return ApiResponse(
            QueueStatusSerializer(queue_status_get()).data, message="Queue status retrieved"
        )


class CheckStuckRunsView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Run the stuck-run reaper now",
        request=None,
        responses={200: ReapResultSerializer},
    )
    def post(self, request: Request) -> ApiResponse:
        result = runs_reap().as_dict()
        return ApiResponse(ReapResultSerializer(result).data, message="Stuck runs checked")


class VerifyStatusesView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Runs and media whose status disagrees with their analyses",
        responses={200: StatusReportSerializer},
    )
    def get(self, request: Request) -> ApiResponse:
        found = status_inconsistencies_list()
        return ApiResponse(
            StatusReportSerializer({"count": len(found), "inconsistencies": found}).data,
            message=f"{len(found)} inconsistent status(es) found",
        )


class FixStatusesView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Repair every inconsistent status",
        request=None,
        responses={200: StatusFixSerializer},
    )
    def post(self, request: Request) -> ApiResponse:
        changes = statuses_fix()
        return ApiResponse(
            StatusFixSerializer({"count": len(changes), "changes": changes}).data,
            message=f"{len(changes)} status(es) fixed",
        )


class AnalyticsView(StaffAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Per-model performance, extremes, uploads and verdicts over recent days",
        parameters=[DAYS_QUERY],
        responses={200: AnalyticsSerializer},
    )
    def get(self, request: Request) -> ApiResponse:
        days = analytics_days_parse(raw=request.query_params.get(DAYS_PARAMETER))
        analytics = analytics_get(days=days)
        return ApiResponse(AnalyticsSerializer(analytics).data, message="Analytics retrieved")
