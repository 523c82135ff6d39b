"""Test-only endpoints that exercise the API conventions with no domain behind them.

Used with `@pytest.mark.urls("tests.api.probe_urls")`; the real URLs and error handlers stay in.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.api.serializers import UserSerializer
from accounts.models import User
from accounts.permissions import IsStaffRole
from drishtiksha.api.responses import ApiResponse
from drishtiksha.api.serializers import CamelCaseSerializer
from drishtiksha.errors import Conflict
from drishtiksha.urls import handler400, handler403, handler404, handler500  # noqa: F401
from drishtiksha.urls import urlpatterns as project_urlpatterns

SECRET_IN_EXCEPTION = "db password is hunter2"


class UserList(generics.ListAPIView):
    serializer_class = UserSerializer

    def get_queryset(self):
        return User.objects.order_by("email")


class UserDetail(generics.RetrieveAPIView):
    """Looked up through a `<str:...>` route, so a malformed id reaches the view."""

    serializer_class = UserSerializer
    queryset = User.objects.all()
    lookup_url_kwarg = "user_id"


class StaffOnly(APIView):
    permission_classes = (IsStaffRole,)

    def get(self, request: Request) -> ApiResponse:
        return ApiResponse({"secret": "for admins"}, message="Staff only")


class FrameSerializer(CamelCaseSerializer):
    frame_index = serializers.IntegerField(min_value=0)


class AnalysisSerializer(CamelCaseSerializer):
    model_name = serializers.CharField()
    processing_time = serializers.FloatField()
    result_payload = serializers.JSONField()
    frames = FrameSerializer(many=True, required=False)


class Echo(APIView):
    permission_classes = (AllowAny,)

    def post(self, request: Request) -> ApiResponse:
        serializer = AnalysisSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Round trip: Python names inside, wire names outside.
        assert {"model_name", "processing_time", "result_payload"} <= set(serializer.validated_data)
        return ApiResponse(AnalysisSerializer(serializer.validated_data).data, message="Echoed")


class Conflicting(APIView):
    permission_classes = (AllowAny,)

    def post(self, request: Request) -> ApiResponse:
        raise Conflict("Already there.", field_errors={"model_name": "Taken."})


class Crash(APIView):
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> ApiResponse:
        raise RuntimeError(SECRET_IN_EXCEPTION)


def plain_django_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_IN_EXCEPTION)


urlpatterns = [
    path("api/v1/probe/users", UserList.as_view()),
    path("api/v1/probe/users/<str:user_id>", UserDetail.as_view()),
    path("api/v1/probe/users-by-uuid/<uuid:user_id>", UserDetail.as_view()),
    path("api/v1/probe/staff", StaffOnly.as_view()),
    path("api/v1/probe/echo", Echo.as_view()),
    path("api/v1/probe/conflict", Conflicting.as_view()),
    path("api/v1/probe/crash", Crash.as_view()),
    path("api/v1/probe/django-crash", plain_django_crash),
    path("pages/django-crash", plain_django_crash),
    *project_urlpatterns,
]
