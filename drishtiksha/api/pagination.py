"""Page-number pagination with camelCase parameters and the `{results, count, ...}` shape."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request

from drishtiksha.api.responses import DEFAULT_SUCCESS_MESSAGE, ApiResponse
from drishtiksha.paging import IdsFirstPaginator

PAGE_PARAM = "page"
PAGE_SIZE_PARAM = "pageSize"


class EnvelopePagination(BasePagination):
    """`?page=2&pageSize=50` -> `data: {results, count, page, pageSize, totalPages}`.

    A `pageSize` above `API_MAX_PAGE_SIZE` is lowered to it rather than refused, so a client asking
    for "everything" gets the largest page; a page past the end is a 404 so that a client walking
    pages learns it went too far instead of getting an empty list that looks like "no data".
    """

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        page_size = self._page_size(request)
        page_number = self._positive_int(request, PAGE_PARAM, default=1)
        paginator = (
            IdsFirstPaginator(queryset, page_size)
            if isinstance(queryset, QuerySet)
            else Paginator(queryset, page_size)
        )
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(
                f"Page {page_number} does not exist; there are {paginator.num_pages} pages."
            ) from exc
        return list(self.page)

    def get_paginated_response(
        self, data: Any, *, message: str = DEFAULT_SUCCESS_MESSAGE
    ) -> ApiResponse:
        """The page as the envelope's data; `message` is the envelope's (views pass their own)."""
        paginator = self.page.paginator
        return ApiResponse(
            {
                "results": data,
                "count": paginator.count,
                "page": self.page.number,
                "pageSize": paginator.per_page,
                "totalPages": paginator.num_pages,
            },
            message=message,
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "count", "page", "pageSize", "totalPages"],
            "properties": {
                "results": schema,
                "count": {"type": "integer", "example": 123},
                "page": {"type": "integer", "example": 1},
                "pageSize": {"type": "integer", "example": settings.API_DEFAULT_PAGE_SIZE},
                "totalPages": {"type": "integer", "example": 7},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": PAGE_PARAM,
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": PAGE_SIZE_PARAM,
                "required": False,
                "in": "query",
                "description": (
                    f"Items per page (default {settings.API_DEFAULT_PAGE_SIZE}, "
                    f"at most {settings.API_MAX_PAGE_SIZE})."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]

    def _page_size(self, request: Request) -> int:
        requested = self._positive_int(
            request, PAGE_SIZE_PARAM, default=settings.API_DEFAULT_PAGE_SIZE
        )
        return min(requested, settings.API_MAX_PAGE_SIZE)

    @staticmethod
    def _positive_int(request: Request, name: str, *, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ValidationError({name: f"{name} must be a whole number of at least 1."})
        return value
