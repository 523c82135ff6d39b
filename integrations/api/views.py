"""Webhooks API (`/api/v1/webhooks...`): validate input, call a service, answer in the envelope."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.services import audit_context_from_request
from drishtiksha.api.pagination import EnvelopePagination
from drishtiksha.api.responses import ApiResponse
from integrations.api.serializers import (
    WebhookCreateSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
    WebhookWithSecretSerializer,
)
from integrations.selectors import deliveries_for_webhook, webhook_get_for_user, webhooks_for_user
from integrations.services import webhook_create, webhook_delete, webhook_test_send, webhook_update

TAG = "webhooks"


class WebhookCollectionView(GenericAPIView):
    pagination_class = EnvelopePagination
    serializer_class = WebhookSerializer

    @extend_schema(tags=[TAG], responses={200: WebhookSerializer(many=True)})
    def get(self, request: Request) -> ApiResponse:
        """The caller's webhooks, newest first (paginated; secrets left out)."""
        page = self.paginate_queryset(webhooks_for_user(user=request.user))
        return self.paginator.get_paginated_response(
            WebhookSerializer(page, many=True).data, message="Webhooks retrieved"
        )

    @extend_schema(
        tags=[TAG],
        request=WebhookCreateSerializer,
        responses={
            201: WebhookWithSecretSerializer,
            409: OpenApiResponse(description="The per-user limit of webhooks is reached."),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        """Register an https URL; the answer carries the signing secret."""
        serializer = WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = webhook_create(
            owner=request.user,
            context=audit_context_from_request(request),
            **serializer.validated_data,
        )
        data = WebhookWithSecretSerializer(webhook).data
        return ApiResponse(data, message="Webhook registered", status=201)


class WebhookDetailView(APIView):
    @extend_schema(tags=[TAG], responses={200: WebhookWithSecretSerializer})
    def get(self, request: Request, webhook_id) -> ApiResponse:
        """One webhook with its signing secret."""
        webhook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        return ApiResponse(WebhookWithSecretSerializer(webhook).data, message="Webhook retrieved")

    @extend_schema(tags=[TAG], request=WebhookUpdateSerializer, responses={200: WebhookSerializer})
    def patch(self, request: Request, webhook_id) -> ApiResponse:
        """Change the URL, the description or whether it is active."""
        webhook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        serializer = WebhookUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = webhook_update(webhook=webhook, **serializer.validated_data)
        return ApiResponse(WebhookSerializer(webhook).data, message="Webhook updated")

    @extend_schema(tags=[TAG], responses={200: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, webhook_id) -> ApiResponse:
        """Remove the webhook and its delivery log."""
        webhook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        webhook_delete(webhook=webhook, context=audit_context_from_request(request))
        return ApiResponse({"id": str(webhook_id)}, message="Webhook deleted")


class WebhookDeliveriesView(GenericAPIView):
    pagination_class = EnvelopePagination
    serializer_class = WebhookDeliverySerializer

    @extend_schema(tags=[TAG], responses={200: WebhookDeliverySerializer(many=True)})
    def get(self, request: Request, webhook_id) -> ApiResponse:
        """The webhook's delivery log, newest first (paginated)."""
        webhook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        page = self.paginate_queryset(deliveries_for_webhook(webhook=webhook))
        return self.paginator.get_paginated_response(
            WebhookDeliverySerializer(page, many=True).data, message="Deliveries retrieved"
        )


class WebhookTestView(APIView):
    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            202: WebhookDeliverySerializer,
            409: OpenApiResponse(description="The webhook is disabled."),
        },
    )
    def post(self, request: Request, webhook_id) -> ApiResponse:
        """Queue a `ping` event to the webhook; its delivery shows in the log."""
        webhook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        delivery = webhook_test_send(webhook=webhook)
        return ApiResponse(
            WebhookDeliverySerializer(delivery).data, message="Test event queued", status=202
        )
