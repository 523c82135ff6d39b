"""Presentation helpers of the media pages: dashboard query strings and the metadata panel.

The dashboard keeps its whole state (search, filters, sorting, page, page size) in the query
string, with the API's parameter names, so that a reload, a bookmark or the back button shows the
same rows. Only valid values are written back, so a bad link cleans itself up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.http import url_has_allowed_host_and_scheme

from drishtiksha.paging import query_string
from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict
from media_analysis.models import Media
from media_analysis.results import as_mapping, format_bitrate, format_duration
from media_analysis.selectors import DEFAULT_MEDIA_ORDERING, MediaFilters
from media_analysis.services.prepare import REFUSED_PREFIX

# Sortable dashboard columns: wire ordering key -> (column title, direction of a first click).
SORTABLE_COLUMNS = {
    "filename": ("File", ""),
    "status": ("Status", ""),
    "createdAt": ("Uploaded", "-"),
}

ORDERING_CHOICES = [
    ("-createdAt", "Newest first"),
    ("createdAt", "Oldest first"),
    ("filename", "File name A–Z"),
    ("-filename", "File name Z–A"),
    ("-size", "Largest first"),
    ("size", "Smallest first"),
    ("status", "Status A–Z"),
    ("-status", "Status Z–A"),
]


def vocabulary() -> dict[str, Any]:
    """Labels of every status, prediction and verdict, for the pages' scripts: they render what
    live events say with the server's own words instead of a second copy of the vocabulary."""
    return {
        "runStatus": dict(RunStatus.choices),
        "runActive": list(RunStatus.active()),
        "analysisStatus": dict(AnalysisStatus.choices),
        "prediction": dict(Prediction.choices),
        "verdict": dict(Verdict.choices),
    }


def page_size_parse(raw: str | None) -> int:
    """The requested page size, clamped to 1..largest choice; the default when unreadable."""
    try:
        size = int(raw or "")
    except ValueError:
        return settings.DASHBOARD_PAGE_SIZE
    return min(max(size, 1), max(settings.DASHBOARD_PAGE_SIZE_CHOICES))


def dashboard_params(*, filters: MediaFilters, page_size: int) -> dict[str, str]:
    """The canonical query parameters of a dashboard view (defaults left out)."""
    params = {
        "search": filters.search,
        "mediaType": filters.media_type,
        "status": filters.status,
        "verdict": filters.verdict,
        "ordering": "" if filters.ordering == DEFAULT_MEDIA_ORDERING else filters.ordering,
        "pageSize": "" if page_size == settings.DASHBOARD_PAGE_SIZE else str(page_size),
    }
    return {key: value for key, value in params.items() if value}


@dataclass(frozen=True)
class SortColumn:
    key: str
    title: str
    url: str
    # The `aria-sort` value: "ascending", "descending" or "" for a column not sorted by.
    aria_sort: str


def sort_columns(*, params: dict[str, str], ordering: str) -> dict[str, SortColumn]:
    """Header links: clicking the sorted column flips it, any other sorts by it (page 1)."""
    current = ordering.lstrip("-")
    descending = ordering.startswith("-")
    columns = {}
    for key, (title, first_direction) in SORTABLE_COLUMNS.items():
        if key == current:
            target = key if descending else f"-{key}"
            aria = "descending" if descending else "ascending"
        else:
            target, aria = f"{first_direction}{key}", ""
        if target == DEFAULT_MEDIA_ORDERING:
            target = ""
        url = query_string(params, ordering=target, page="")
        columns[key] = SortColumn(key=key, title=title, url=url, aria_sort=aria)
    return columns


def safe_next(request: Any, fallback: str) -> str:
    """The form's `next` when it points back into this site, else `fallback` (no open redirect)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _dimensions(section: dict[str, Any]) -> str:
    width, height = section.get("width"), section.get("height")
    return f"{width} × {height} px" if width and height else ""


def _frame_rate(value: Any) -> str:
    return f"{value:.3g} fps" if isinstance(value, int | float) and value > 0 else ""


def _sample_rate(value: Any) -> str:
    return f"{value:,} Hz" if isinstance(value, int) and value > 0 else ""


def _file_check(media: Media) -> str:
    """Where an upload not yet probed here stands (see `services.prepare`)."""
    if media.status in RunStatus.active():
        return "Being checked: details and poster follow in a moment"
    latest = media.latest_run
    if latest is not None and latest.error_message.startswith(REFUSED_PREFIX):
        return "Refused: the reason is in the run below"
    return "Not yet checked here: it will be before its next analysis"


def metadata_rows(media: Media) -> list[tuple[str, str]]:
    """(label, value) rows of the media page's metadata panel; unknown values are left out."""
    metadata = as_mapping(media.metadata)
    container, video, image, audio = (
        as_mapping(metadata.get(name)) for name in ("format", "video", "image", "audio")
    )
    picture = video or image
    rows = [
        ("Type", media.get_media_type_display()),
        ("MIME type", media.mimetype),
        ("Size", f"{filesizeformat(media.size)} ({media.size:,} bytes)"),
    ]
    if media.media_type != MediaType.IMAGE and container.get("duration") is not None:
        rows.append(("Duration", format_duration(container.get("duration"))))
    rows += [
        ("Resolution", _dimensions(picture)),
        ("Frame rate", _frame_rate(video.get("fps"))),
        ("Frames", f"{video['frameCount']:,}" if isinstance(video.get("frameCount"), int) else ""),
        ("Video codec" if video else "Image codec", picture.get("codec") or ""),
        ("Pixel format", picture.get("pixelFormat") or ""),
        ("Audio codec", audio.get("codec") or ""),
        ("Sample rate", _sample_rate(audio.get("sampleRate"))),
        ("Channels", str(audio["channels"]) if audio.get("channels") else ""),
        ("Container", container.get("formatName") or ""),
    ]
    if container.get("bitRate"):
        rows.append(("Bit rate", format_bitrate(container.get("bitRate"))))
    if media.media_type == MediaType.VIDEO and media.has_audio is not None:
        rows.append(("Audio track", "Yes" if media.has_audio else "No"))
    if media.prepared_at is None:
        rows.append(("File check", _file_check(media)))
    rows.append(("SHA-256", media.sha256))
    return [(label, value) for label, value in rows if value]
