"""What happens when a link is submitted: check → queue → (worker) download → ingest as an upload.

The submission is answered at once: `link_import_create` refuses what is plainly not fetchable
(scheme, shape, a host that resolves to a private address) and queues the rest. The worker's
`link_import_fetch` downloads with `drishtiksha.url_safety` (every redirect checked again, every
connection checked at connect time), within the upload size limit, into the upload temporary
folder, and hands the file to `media_ingest`: from there a link is an upload, with the same
content sniffing, format checks and duplicate rules. Whatever goes wrong ends as a FAILED import
with a reason the user can read, and no file left behind.

Platform links (a video page rather than a file) go through yt-dlp when the optional `links`
extra is installed. yt-dlp makes its own requests (to the platform's API and media hosts), which
this module checks only for the page's own URL; see the README.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import transaction

from accounts.models import User
from audit.models import AuditAction
from audit.services import SYSTEM, AuditContext, audit_record
from drishtiksha.errors import DomainError, NotFound, ValidationFailed
from drishtiksha.task_send import task_send
from drishtiksha.url_safety import UnsafeUrl, safe_session, url_check
from media_analysis.formats import FORMATS_BY_EXTENSION, extension_of
from media_analysis.models import (
    DESCRIPTION_MAX_LENGTH,
    SOURCE_URL_MAX_LENGTH,
    LinkImport,
    LinkImportStatus,
)
from media_analysis.services.ingest import display_filename, media_ingest
from media_analysis.task_names import LINK_IMPORT_FETCH
from media_analysis.uploads import upload_temp_dir

logger = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
FALLBACK_FILENAME = "download"
USER_AGENT = "Drishtiksha link import"
PAGE_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
_MIB = 1024 * 1024


class LinkRefused(Exception):
    """The link cannot be turned into media; `str()` says why, in words fit for the user."""


@dataclass(frozen=True)
class Downloaded:
    path: Path
    filename: str


class _DownloadedFile(File):
    """An opened download that says where it lies, so local storage moves it instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


# --- Submitting -----------------------------------------------------------------------------------


def link_import_create(
    *,
    owner: User,
    url: str,
    description: str = "",
    model_names: list[str] | None = None,
    audit: AuditContext = SYSTEM,
) -> LinkImport:
    """Record a submitted link and queue its download; refuse at once what cannot be fetched."""
    url = (url or "").strip()
    description = (description or "").strip()
    if not url:
        raise ValidationFailed("Give the link to analyse.", field_errors={"url": "Required."})
    if len(url) > SOURCE_URL_MAX_LENGTH:
        message = f"Links may be at most {SOURCE_URL_MAX_LENGTH} characters long."
        raise ValidationFailed(message, field_errors={"url": message})
    if len(description) > DESCRIPTION_MAX_LENGTH:
        message = f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} characters."
        raise ValidationFailed(message, field_errors={"description": message})
    try:
        url_check(url)
    except UnsafeUrl as error:
        raise ValidationFailed(str(error), field_errors={"url": str(error)}) from error
    if model_names is not None and not model_names:
        message = "Name at least one model, or leave the list out to run every compatible one."
        raise ValidationFailed(message, field_errors={"models": message})

    with transaction.atomic():
        link_import = LinkImport.objects.create(
            owner=owner,
            url=url,
            description=description,
            requested_models=list(model_names or []),
        )
        audit_record(
            action=AuditAction.LINK_SUBMITTED,
            owner_id=owner.pk,
            context=audit,
            target=link_import,
            target_label=url,
            details={"url": url, "requested_models": link_import.requested_models},
        )
        import_id = link_import.pk
        transaction.on_commit(lambda: _fetch_enqueue(link_import_id=import_id))
    return link_import


def _fetch_enqueue(*, link_import_id: uuid.UUID) -> None:
    try:
        task_send(LINK_IMPORT_FETCH, {"link_import_id": str(link_import_id)})
    except Exception:  # noqa: BLE001 - the row is committed; say so on it instead of a 500
        logger.exception("could not queue link import %s", link_import_id)
        _fail(link_import_id, "The link could not be queued for download. Try again later.")


# --- Reading --------------------------------------------------------------------------------------


def link_import_list_for_user(*, user: User):
    return LinkImport.objects.filter(owner=user).order_by("-created_at", "-id")


def link_import_get_for_user(*, user: User, link_import_id: uuid.UUID | str) -> LinkImport:
    try:
        return LinkImport.objects.get(owner=user, pk=link_import_id)
    except (LinkImport.DoesNotExist, ValueError, TypeError) as error:
        raise NotFound("Link import not found.") from error


# --- Fetching (the worker's side) -----------------------------------------------------------------


def link_import_fetch(*, link_import_id: uuid.UUID | str) -> LinkImport | None:
    """Download the link and ingest it as an upload; on any failure mark the import FAILED.

    An import already DONE or FAILED (a redelivered task) is left as it is.
    """
    claimed = LinkImport.objects.filter(
        pk=link_import_id, status__in=[LinkImportStatus.QUEUED, LinkImportStatus.DOWNLOADING]
    ).update(status=LinkImportStatus.DOWNLOADING, bytes_received=0, error_message="")
    if not claimed:
        return None
    link_import = LinkImport.objects.select_related("owner").get(pk=link_import_id)
    try:
        with tempfile.TemporaryDirectory(prefix="link-", dir=upload_temp_dir()) as folder:
            download = _download(link_import, Path(folder))
            with download.path.open("rb") as handle:
                result = media_ingest(
                    owner=link_import.owner,
                    upload=_DownloadedFile(handle, name=download.filename),
                    filename=download.filename,
                    description=link_import.description,
                    model_names=link_import.requested_models or None,
                    source_url=link_import.url,
                    # The submitter's request is long gone: the upload row says where it came from.
                    audit=AuditContext(
                        extra={"source_url": link_import.url, "link_import": str(link_import.pk)}
                    ),
                )
    except (LinkRefused, UnsafeUrl) as error:
        return _fail(link_import.pk, str(error))
    except DomainError as error:
        return _fail(link_import.pk, error.message)
    except SoftTimeLimitExceeded:
        limit = settings.LINK_FETCH_TASK_SOFT_TIME_LIMIT_SECONDS
        return _fail(link_import.pk, f"Fetching the link took longer than {limit} seconds.")
    except requests.Timeout:
        return _fail(link_import.pk, "The server of the link did not answer in time.")
    except requests.RequestException:
        return _fail(link_import.pk, "The link could not be fetched: the connection failed.")
    except Exception:
        logger.exception("link import %s failed", link_import.pk)
        return _fail(link_import.pk, "The link could not be fetched because of an internal error.")
    LinkImport.objects.filter(pk=link_import.pk).update(
        status=LinkImportStatus.DONE, media=result.media
    )
    logger.info("link import %s became media %s", link_import.pk, result.media.pk)
    link_import.refresh_from_db()
    return link_import


def _fail(link_import_id: uuid.UUID, message: str) -> LinkImport | None:
    LinkImport.objects.filter(pk=link_import_id).update(
        status=LinkImportStatus.FAILED, error_message=message
    )
    return LinkImport.objects.filter(pk=link_import_id).first()


def _too_large() -> LinkRefused:
    return LinkRefused(
        f"The file is larger than the {settings.MAX_UPLOAD_SIZE / _MIB:g} MiB upload limit."
    )


def _get_following_redirects(session: requests.Session, url: str) -> requests.Response:
    """GET `url`, following redirects here (not in requests) so that each hop is checked first."""
    timeout = (
        settings.LINK_FETCH_CONNECT_TIMEOUT_SECONDS,
        settings.LINK_FETCH_READ_TIMEOUT_SECONDS,
    )
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
    for _hop in range(settings.LINK_FETCH_MAX_REDIRECTS + 1):
        url_check(url)
        response = session.get(
            url, stream=True, allow_redirects=False, timeout=timeout, headers=headers
        )
        if not response.is_redirect:
            return response
        response.close()
        url = urljoin(url, response.headers["Location"])
    raise LinkRefused(f"The link redirected more than {settings.LINK_FETCH_MAX_REDIRECTS} times.")


def _download(link_import: LinkImport, folder: Path) -> Downloaded:
    with safe_session() as session:
        response = _get_following_redirects(session, link_import.url)
        with response:
            if response.status_code >= 400:
                raise LinkRefused(
                    f"The server of the link answered {response.status_code} "
                    f"({response.reason or 'error'}) instead of a file."
                )
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type in PAGE_CONTENT_TYPES:
                response.close()
                return _download_page(link_import, folder)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > settings.MAX_UPLOAD_SIZE:
                raise _too_large()
            filename = _filename_for(response, content_type)
            path = folder / f"{uuid.uuid4().hex}.download"
            _stream_to(response, path, link_import_id=link_import.pk)
    return Downloaded(path=path, filename=filename)


def _stream_to(response: requests.Response, path: Path, *, link_import_id: uuid.UUID) -> None:
    received = 0
    reported = 0
    with path.open("wb") as handle:
        for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
            received += len(chunk)
            if received > settings.MAX_UPLOAD_SIZE:
                raise _too_large()
            handle.write(chunk)
            if received - reported >= settings.LINK_FETCH_PROGRESS_BYTES:
                reported = received
                LinkImport.objects.filter(pk=link_import_id).update(bytes_received=received)
    LinkImport.objects.filter(pk=link_import_id).update(bytes_received=received)


def _filename_for(response: requests.Response, content_type: str) -> str:
    """Content-Disposition's name, else the URL path's last part, else "download".

    A name whose extension is not one we accept gets the extension of the declared type, so a
    link like `/video?id=7` serving video/mp4 is checked as the MP4 it says it is; the content
    sniffing of the ingest still decides whether it is one.
    """
    name = ""
    disposition = response.headers.get("Content-Disposition", "")
    if disposition:
        message = Message()
        message["Content-Disposition"] = disposition
        name = message.get_filename() or ""
    if not name:
        name = unquote(urlsplit(response.url).path.rsplit("/", 1)[-1])
    name = display_filename(name) if name.strip() else FALLBACK_FILENAME
    if name == "upload":
        name = FALLBACK_FILENAME
    if extension_of(name) not in FORMATS_BY_EXTENSION:
        declared = next(
            (
                fmt.extension
                for fmt in FORMATS_BY_EXTENSION.values()
                if fmt.mimetype == content_type
            ),
            None,
        )
        if declared:
            name = f"{name}.{declared}"
    return name


def _download_page(link_import: LinkImport, folder: Path) -> Downloaded:
    """A web page: the platform's video through yt-dlp if installed, else a clear refusal."""
    try:
        import yt_dlp
    except ImportError:
        raise LinkRefused(
            "This link is a web page, not a media file. Link to the file itself, or ask the "
            "administrator to install the links extra (yt-dlp) for video platform pages."
        ) from None
    url_check(link_import.url)
    limit = settings.MAX_UPLOAD_SIZE
    options = {
        "outtmpl": str(folder / "%(id)s.%(ext)s"),
        # One file with both tracks, never a merge (that would need ffmpeg on the worker's PATH
        # and can exceed the limit after the check), the best within the size limit.
        "format": f"best[filesize<={limit}]/best[filesize_approx<={limit}]/best",
        "max_filesize": limit,
        "noplaylist": True,
        "playlist_items": "1",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "restrictfilenames": True,
        "socket_timeout": settings.LINK_FETCH_READ_TIMEOUT_SECONDS,
        "max_downloads": 1,
    }
    try:
        with yt_dlp.YoutubeDL(options) as downloader:
            info = downloader.extract_info(link_import.url, download=True)
    except yt_dlp.utils.MaxDownloadsReached:
        info = None
    except yt_dlp.utils.DownloadError as error:
        raise LinkRefused(
            f"This web page has no video that could be downloaded ({_first_line(str(error))})."
        ) from error
    files = [
        path for path in folder.iterdir() if path.is_file() and not path.name.endswith(".part")
    ]
    if not files:
        raise _too_large() if info else LinkRefused("This web page has no video to download.")
    path = max(files, key=lambda candidate: candidate.stat().st_size)
    if path.stat().st_size > limit:
        raise _too_large()
    LinkImport.objects.filter(pk=link_import.pk).update(bytes_received=path.stat().st_size)
    title = (info or {}).get("title") or path.stem
    return Downloaded(path=path, filename=display_filename(f"{title}{path.suffix}"))


def _first_line(text: str) -> str:
    return text.replace("ERROR: ", "").splitlines()[0][:200] if text else "unknown error"
