"""Shared API infrastructure for everything under `/api/v1`; configured once in REST_FRAMEWORK.

How an app's API view follows the conventions::

    from drishtiksha.api.responses import ApiResponse
    from drishtiksha.api.serializers import CamelCaseModelSerializer

    class MediaSerializer(CamelCaseModelSerializer):      # wire names: originalFilename, ...
        class Meta:
            model = Media
            fields = ["id", "original_filename", "metadata"]   # `metadata` passes verbatim

    class MediaDetail(APIView):                           # IsAuthenticated by default
        def get(self, request, media_id):                 # route: "media/<uuid:media_id>"
            media = media_get_for_user(user=request.user, media_id=media_id)  # raises NotFound
            return ApiResponse(MediaSerializer(media).data, message="Media retrieved")

- Success: return `ApiResponse(data, message=..., status=...)` (or a plain `Response`, or a generic
  view's answer); `renderers.EnvelopeJSONRenderer` wraps it as `{statusCode, data, message,
  success}`. A 204 has no body.
- Errors: raise a `drishtiksha.errors.DomainError` subclass (or let DRF raise); never build an
  error response. `exceptions.api_exception_handler` maps every exception to
  `{statusCode, success: false, message, errors: [{field, message}], requestId}`.
- Lists: `generics.ListAPIView`, or `self.paginate_queryset` and then
  `self.paginator.get_paginated_response(data, message=...)`, paginate with
  `pagination.EnvelopePagination`: `?page=&pageSize=` -> `data: {results, count, page, pageSize,
  totalPages}`.
- Input: camelCase serializers with `reject_unknown_fields = True` where extra keys must be
  refused; `serializer.validated_data` has Python names for the service call.
- Documentation: `schema.EnvelopeAutoSchema` documents all of the above; annotate views with
  `drf_spectacular.utils.extend_schema(request=..., responses={200: Serializer, 409:
  OpenApiResponse(description=...)})` and the envelopes are added.
"""
