"""Functions that read media, runs and analyses. They own the shape of each query.

Every list costs a constant number of queries whatever its length: related rows are fetched with
`select_related` / `prefetch_related` here, never lazily in serializers or templates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import User
from drishtiksha.errors import NotFound, ValidationFailed
from media_analysis.choices import MediaType, RunStatus, Verdict
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media

# Wire name -> ORM field for `ordering`; a leading "-" sorts descending.
MEDIA_ORDERING_FIELDS = {
    "createdAt": "created_at",
    "filename": "original_filename",
    "size": "size",
    "status": "status",
}
DEFAULT_MEDIA_ORDERING = "-createdAt"


@dataclass(frozen=True)
class MediaFilters:
    media_type: str = ""
    status: str = ""
    verdict: str = ""
    search: str = ""
    ordering: str = DEFAULT_MEDIA_ORDERING


def _choice(value: str, choices: type, field: str) -> str:
    value = (value or "").strip().upper()
    if value and value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ValidationFailed(
            f"Unknown {field} {value!r}; use one of {allowed}.",
            field_errors={field: f"Must be one of {allowed}."},
        )
    return value


def media_filters_parse(
    *,
    media_type: str = "",
    status: str = "",
    verdict: str = "",
    search: str = "",
    ordering: str = "",
) -> MediaFilters:
    """Validate list filters coming from a query string (the API's and the dashboard's)."""
    ordering = (ordering or DEFAULT_MEDIA_ORDERING).strip()
    if ordering.lstrip("-") not in MEDIA_ORDERING_FIELDS:
        allowed = ", ".join(MEDIA_ORDERING_FIELDS)
        raise ValidationFailed(
            f"Unknown ordering {ordering!r}; use one of {allowed}, optionally prefixed with '-'.",
            field_errors={"ordering": f"Must be one of {allowed}, optionally prefixed with '-'."},
        )
    search = (search or "").strip()
    if "\x00" in search:
        # No stored text can hold NUL (PostgreSQL refuses it outright), so nothing would match.
        message = "The search text cannot contain NUL characters."
        raise ValidationFailed(message, field_errors={"search": message})
    return MediaFilters(
        media_type=_choice(media_type, MediaType, "mediaType"),
        status=_choice(status, RunStatus, "status"),
        verdict=_choice(verdict, Verdict, "verdict"),
        search=search,
        ordering=ordering,
    )


def _latest_run_analyses(*, with_payloads: bool = True) -> Prefetch:
    analyses = DeepfakeAnalysis.objects.order_by("model_name")
    if not with_payloads:
        # A list never shows result payloads, and an image's heatmap alone can weigh megabytes.
        analyses = analyses.defer("result_payload", "error_details")
    return Prefetch("latest_run__analyses", queryset=analyses)


def _media_list(*, user: User, filters: MediaFilters | None) -> QuerySet[Media]:
    """The user's media, filtered and ordered; no related rows."""
    filters = filters or MediaFilters()
    # Robustness copies are shown with the upload they were made from, not on their own.
    queryset = Media.objects.filter(owner=user, derived_from__isnull=True)
    if filters.media_type:
        queryset = queryset.filter(media_type=filters.media_type)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.verdict:
        queryset = queryset.filter(latest_run__verdict=filters.verdict)
    if filters.search:
        queryset = queryset.filter(
            Q(original_filename__icontains=filters.search)
            | Q(description__icontains=filters.search)
        )
    descending = filters.ordering.startswith("-")
    field = MEDIA_ORDERING_FIELDS[filters.ordering.lstrip("-")]
    # The id breaks ties so that pages never overlap or skip rows; the default ordering walks the
    # `media_library_idx` index, id included.
    return queryset.order_by(f"-{field}" if descending else field, "-id" if descending else "id")


def media_list_for_user(*, user: User, filters: MediaFilters | None = None) -> QuerySet[Media]:
    """The user's media with their latest run and its analyses, filtered and ordered."""
    return (
        _media_list(user=user, filters=filters)
        .select_related("latest_run")
        .prefetch_related(_latest_run_analyses(with_payloads=False))
    )


def media_list_with_runs_for_user(
    *, user: User, filters: MediaFilters | None = None
) -> QuerySet[Media]:
    """The user's media, filtered and ordered as `media_list_for_user`, with every run of each
    item (newest first) and their analyses, without result payloads as everywhere in a list.

    For the API's list, whose clients read `analysisRuns` on each item as well as `latestRun`.
    The latest run is one of those runs, so it is not fetched again: `media_latest_run_from_runs`
    points each item's `latest_run` at its prefetched copy. Three queries whatever the number of
    items (media, runs, analyses).
    """
    analyses = DeepfakeAnalysis.objects.order_by("model_name").defer(
        "result_payload", "error_details"
    )
    runs = AnalysisRun.objects.order_by("-run_number").prefetch_related(
        Prefetch("analyses", queryset=analyses)
    )
    return _media_list(user=user, filters=filters).prefetch_related(Prefetch("runs", queryset=runs))


def media_latest_run_from_runs(media_items: Iterable[Media]) -> None:
    """Give each item of `media_list_with_runs_for_user` its latest run from its prefetched runs.

    Reading `media.latest_run` afterwards costs no query and yields the same object as the one in
    `media.runs.all()`, with its prefetched analyses. An item whose latest run is missing from its
    runs (it cannot be: a media item's latest run is one of its own) keeps the ordinary lookup.
    """
    cache_latest_run = Media.latest_run.field.set_cached_value
    for media in media_items:
        if media.latest_run_id is None:
            cache_latest_run(media, None)
            continue
        for run in media.runs.all():
            if run.pk == media.latest_run_id:
                cache_latest_run(media, run)
                break


def _parse_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("Media not found.") from exc


def media_get_for_user(*, user: User, media_id: uuid.UUID | str) -> Media:
    """One of the user's media with every run (newest first) and their analyses.

    Someone else's media and malformed ids are both simply "not found".
    """
    runs = AnalysisRun.objects.order_by("-run_number").prefetch_related(
        Prefetch("analyses", queryset=DeepfakeAnalysis.objects.order_by("model_name"))
    )
    media = (
        Media.objects.filter(owner=user, pk=_parse_uuid(media_id))
        .select_related("latest_run")
        .prefetch_related(Prefetch("runs", queryset=runs), _latest_run_analyses())
        .first()
    )
    if media is None:
        raise NotFound("Media not found.")
    return media


def media_get_for_file_access(*, user: User, media_id: uuid.UUID | str) -> Media:
    """A media item whose stored files `user` may download: their own, or any for staff."""
    queryset = Media.objects.filter(pk=_parse_uuid(media_id))
    if not user.is_staff:
        queryset = queryset.filter(owner=user)
    media = queryset.first()
    if media is None:
        raise NotFound("Media not found.")
    return media


def media_counts_for_user(*, user: User) -> dict[str, int]:
    """Dashboard counters in one query."""
    in_progress = Q(status__in=RunStatus.active())
    analyzed = Q(status__in=[RunStatus.ANALYZED, RunStatus.PARTIALLY_ANALYZED])
    return Media.objects.filter(owner=user).aggregate(
        total=Count("id"),
        inProgress=Count("id", filter=in_progress),
        analyzed=Count("id", filter=analyzed),
        failed=Count("id", filter=Q(status=RunStatus.FAILED)),
    )


def media_get_with_latest_run(*, media_id: uuid.UUID | str) -> Media | None:
    """A media item with its latest run and that run's analyses, without their result payloads
    (two queries), or None: what a RUN_COMPLETED event carries."""
    return (
        Media.objects.filter(pk=media_id)
        .select_related("latest_run")
        .prefetch_related(_latest_run_analyses(with_payloads=False))
        .first()
    )


def runs_active_for_user(*, user: User) -> list[AnalysisRun]:
    """The user's queued and running runs, oldest first, each with its media and its analyses'
    progress: the snapshot a progress client starts from before live events arrive."""
    return list(
        AnalysisRun.objects.filter(media__owner=user, status__in=RunStatus.active())
        .select_related("media")
        .prefetch_related(
            Prefetch("analyses", queryset=DeepfakeAnalysis.objects.order_by("model_name"))
        )
        .order_by("created_at")
    )


def run_ids_active_for_user(*, user: User) -> list[uuid.UUID]:
    """Ids of the user's queued and running runs (one query, no rows loaded)."""
    return list(
        AnalysisRun.objects.filter(media__owner=user, status__in=RunStatus.active()).values_list(
            "pk", flat=True
        )
    )


def media_id_for_user(*, user: User, media_id: uuid.UUID | str) -> uuid.UUID | None:
    """`media_id` as a UUID if it names one of the user's media, else None (malformed ids too)."""
    try:
        parsed = _parse_uuid(media_id)
    except NotFound:
        return None
    return parsed if Media.objects.filter(owner=user, pk=parsed).exists() else None


def run_get_for_user(*, user: User, run_id: uuid.UUID | str) -> AnalysisRun:
    """One of the user's runs with its media and analyses (by model name); two queries.

    Someone else's run and a malformed id are both "not found".
    """
    try:
        pk = _parse_uuid(run_id)
    except NotFound as exc:
        raise NotFound("Run not found.") from exc
    run = (
        AnalysisRun.objects.filter(pk=pk, media__owner=user)
        .select_related("media")
        .prefetch_related(
            Prefetch("analyses", queryset=DeepfakeAnalysis.objects.order_by("model_name"))
        )
        .first()
    )
    if run is None:
        raise NotFound("Run not found.")
    return run


def analysis_get_for_user(*, user: User, analysis_id: uuid.UUID | str) -> DeepfakeAnalysis:
    """One of the user's analyses with its run and media, in one query."""
    try:
        pk = _parse_uuid(analysis_id)
    except NotFound as exc:
        raise NotFound("Analysis not found.") from exc
    analysis = (
        DeepfakeAnalysis.objects.filter(pk=pk, run__media__owner=user)
        .select_related("run__media")
        .first()
    )
    if analysis is None:
        raise NotFound("Analysis not found.")
    return analysis
