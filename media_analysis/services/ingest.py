"""What happens when a file is uploaded: check → store → create rows → start run #1.

The upload is answered after the checks that cost no more than reading the file once (size,
extension, content signature, no appended archive, hash); a file they refuse leaves no file and
no row behind. The probe and the poster, which start ffprobe and ffmpeg, run in the run's
dispatch task after the answer (see `prepare`): a file they refuse gets a FAILED run that says
why, and is never sent to a model.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import User
from audit.models import AuditAction
from audit.services import SYSTEM, AuditContext, audit_record
from drishtiksha.errors import UnsupportedMediaType, ValidationFailed
from media_analysis.formats import (
    FORMATS_BY_EXTENSION,
    SIGNATURE_BYTES,
    STORAGE_FOLDERS,
    TRAILER_BYTES,
    Format,
    accepted_formats_summary,
    ends_with_zip_archive,
    extension_of,
    sniff_container,
)
from media_analysis.models import DESCRIPTION_MAX_LENGTH, Media
from media_analysis.pipeline.start import run_start

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1024 * 1024
DISPLAY_NAME_MAX_LENGTH = 255


@dataclass(frozen=True)
class IngestResult:
    media: Media
    duplicate_of: Media | None


def display_filename(name: str) -> str:
    """The uploaded name made safe to show: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not name:
        return "upload"
    if len(name) > DISPLAY_NAME_MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        keep = DISPLAY_NAME_MAX_LENGTH - len(ext) - 1 if dot and len(ext) <= 10 else None
        name = f"{stem[:keep]}.{ext}" if keep else name[:DISPLAY_NAME_MAX_LENGTH]
    return name


def _accepted_list() -> str:
    return "; ".join(
        f"{kind.lower()}: {', '.join(exts)}" for kind, exts in accepted_formats_summary().items()
    )


def media_format_check(*, filename: str, head: bytes, size: int) -> Format:
    """Decide what the file is from its content and require the extension to agree."""
    if size == 0:
        raise ValidationFailed("The uploaded file is empty.", field_errors={"media": "Empty file."})
    extension = extension_of(filename)
    fmt = FORMATS_BY_EXTENSION.get(extension)
    if fmt is None:
        shown = f".{extension}" if extension else "no extension"
        raise UnsupportedMediaType(
            f"Files with {shown} are not accepted. Accepted: {_accepted_list()}.",
            field_errors={"media": "Unsupported file type."},
        )
    container = sniff_container(head)
    if container is None:
        raise ValidationFailed(
            "The file could not be read as media: its content is not a video, image or audio "
            "format Drishtiksha accepts.",
            field_errors={"media": "Unreadable media."},
        )
    if container not in fmt.containers:
        raise UnsupportedMediaType(
            f"The file's content ({container}) does not match its .{extension} extension.",
            field_errors={"media": "Extension does not match content."},
        )
    return fmt


def _appended_archive_check(*, fmt: Format, tail: bytes) -> None:
    """Refuse a polyglot: media that is also a ZIP archive is not only what its extension says.

    ffprobe reads such a file happily, so without this it would be stored and served back as
    media while any archive tool unpacks what was smuggled in after it.
    """
    if ends_with_zip_archive(tail):
        raise UnsupportedMediaType(
            f"The file's content does not match its .{fmt.extension} extension: a ZIP archive "
            "is appended to it.",
            field_errors={"media": "Extension does not match content."},
        )


@contextmanager
def _local_copy(upload: File) -> Iterator[Path]:
    """A path on local disk for ffprobe: the upload's own temporary file when it has one.

    A file's `name` is never trusted as a path: for an upload it is whatever the client sent.
    """
    if hasattr(upload, "temporary_file_path"):
        yield Path(upload.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(suffix=".upload") as temp:
        upload.seek(0)
        shutil.copyfileobj(upload, temp, COPY_CHUNK_BYTES)
        temp.flush()
        yield Path(temp.name)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(COPY_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SIGNATURE_BYTES)


def _read_tail(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(max(size - TRAILER_BYTES, 0))
        return handle.read()


def media_ingest(
    *,
    owner: User,
    upload: File,
    filename: str,
    description: str = "",
    model_names: list[str] | None = None,
    robustness_check: bool = False,
    derived_from: Media | None = None,
    derivation: str = "",
    audit: AuditContext = SYSTEM,
    source_url: str = "",
) -> IngestResult:
    """Check and store an uploaded file, create its Media row and start run #1.

    The row starts unprepared: the run's dispatch task probes the file and makes its poster
    before any model sees it (see `prepare`). `upload` is any Django File (an uploaded file or an
    opened local file); `filename` is the name the user gave it, used for the extension check
    and for display only. `robustness_check` also analyses a re-encoded copy, made by a task
    once the original has passed its probe (see `robustness`); `derived_from` and `derivation`
    mark such a copy. `audit` names who uploads it, for the MEDIA_UPLOADED row of the owner's
    audit trail; a robustness copy gets none, being part of its original's upload. `source_url`
    is the link a fetched file was submitted as (see `links`).
    """
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        message = f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} characters."
        raise ValidationFailed(message, field_errors={"description": message})

    with _local_copy(upload) as path:
        size = path.stat().st_size
        fmt = media_format_check(filename=filename, head=_read_head(path), size=size)
        _appended_archive_check(fmt=fmt, tail=_read_tail(path, size))
        sha256 = getattr(upload, "sha256", "") or _sha256_of(path)

        media_id = uuid.uuid4()
        key = f"{STORAGE_FOLDERS[fmt.media_type]}/{media_id}.{fmt.extension}"
        if hasattr(upload, "temporary_file_path"):
            # Local storage moves the temporary file into place instead of copying it.
            stored_name = default_storage.save(key, upload)
        else:
            with path.open("rb") as handle:
                stored_name = default_storage.save(key, File(handle))
    try:
        result = _create_rows(
            media_id=media_id,
            owner=owner,
            fmt=fmt,
            filename=filename,
            description=description,
            size=size,
            sha256=sha256,
            stored_name=stored_name,
            model_names=model_names,
            audit=audit,
            extra={
                "robustness_requested": robustness_check,
                "derived_from": derived_from,
                "derivation": derivation,
                "source_url": source_url,
            },
        )
    except BaseException:
        default_storage.delete(stored_name)
        raise
    logger.info(
        "ingested media %s (%s, %d bytes) for user %s", media_id, fmt.extension, size, owner.pk
    )
    return result


@transaction.atomic
def _create_rows(
    *,
    media_id: uuid.UUID,
    owner: User,
    fmt: Format,
    filename: str,
    description: str,
    size: int,
    sha256: str,
    stored_name: str,
    model_names: list[str] | None,
    audit: AuditContext,
    extra: dict,
) -> IngestResult:
    duplicate_of = Media.objects.filter(owner=owner, sha256=sha256).order_by("created_at").first()
    media = Media.objects.create(
        id=media_id,
        owner=owner,
        original_filename=display_filename(filename),
        file=stored_name,
        mimetype=fmt.mimetype,
        size=size,
        description=description,
        media_type=fmt.media_type,
        sha256=sha256,
        prepared_at=None,
        **extra,
    )
    # Its status is left to run_start, which writes it with the run (`media_status_set`). Left
    # as written, with no read-back: the answer shows the upload and its run as started.
    run = run_start(media=media, model_names=model_names, new_media=True)
    if extra["derived_from"] is None:
        # In the upload's transaction: an upload rolled back leaves no row. Run #1 gets no
        # RUN_STARTED row of its own; this one stands for it.
        audit_record(
            action=AuditAction.MEDIA_UPLOADED,
            owner_id=owner.pk,
            context=audit,
            target=media,
            details={
                "filename": media.original_filename,
                "size": size,
                "media_type": fmt.media_type,
                "mimetype": fmt.mimetype,
                "sha256": sha256,
                "requested_models": run.requested_models,
                "run_id": str(run.pk),
                "duplicate_of": str(duplicate_of.pk) if duplicate_of else None,
            },
        )
    return IngestResult(media=media, duplicate_of=duplicate_of)
