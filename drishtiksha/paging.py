"""Pages of a queryset counted and cut on its ids, for the API's lists and the pages alike."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class IdsFirstPaginator(Paginator):
    """A `Paginator` over a queryset that counts and slices the queryset's ids only.

    Counting and skipping rows then reads only an index, and the wide rows, joins and prefetches
    are paid for the page's own rows: page 400 of 10,000 items cost four times page 1 before.
    """

    def __init__(self, queryset: QuerySet, per_page: int, **kwargs: Any) -> None:
        self.rows = queryset
        super().__init__(_ids(queryset), per_page, **kwargs)

    def _get_page(self, object_list: Any, number: int, paginator: Paginator) -> Page:
        return Page(_rows_in_order(self.rows, list(object_list)), number, paginator)


def _ids(queryset: QuerySet) -> QuerySet:
    """The queryset's primary keys in its order, without its joins and prefetches."""
    return queryset.select_related(None).prefetch_related(None).values_list("pk", flat=True)


def _rows_in_order(queryset: QuerySet, ids: list[Any]) -> list[Any]:
    """The rows of `ids`, with the queryset's joins and prefetches, in the order of `ids`."""
    if not ids:
        return []
    rows = {row.pk: row for row in queryset.filter(pk__in=ids).order_by()}
    # A row deleted between the two queries is left out rather than failing the page.
    return [rows[pk] for pk in ids if pk in rows]


def query_string(params: dict[str, str], **changes: Any) -> str:
    """`?a=1&b=2` from `params` with `changes` applied; empty values are dropped."""
    merged = dict(params)
    for key, value in changes.items():
        if value:
            merged[key] = str(value)
        else:
            merged.pop(key, None)
    return f"?{urlencode(merged)}" if merged else "?"


def page_links(*, params: dict[str, str], page: Page) -> dict[str, str]:
    """The first, previous, next and last page's query strings, keeping the other `params`.

    A link that leads nowhere (no previous page on page 1, no next on the last) is "".
    """
    return {
        "first_url": query_string(params, page=""),
        "previous_url": query_string(params, page=page.number - 1) if page.has_previous() else "",
        "next_url": query_string(params, page=page.number + 1) if page.has_next() else "",
        "last_url": query_string(params, page=page.paginator.num_pages),
    }
