"""Services that change an existing media item: its description, or its removal."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import transaction

from audit.models import AuditAction
from audit.services import SYSTEM, AuditContext, audit_record
from drishtiksha.errors import ValidationFailed
from media_analysis.models import DESCRIPTION_MAX_LENGTH, Media

logger = logging.getLogger(__name__)


def media_update(*, media: Media, description: str) -> Media:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        message = f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} characters."
        raise ValidationFailed(message, field_errors={"description": message})
    media.description = description
    media.save(update_fields=["description", "updated_at"])
    return media


def _delete_stored_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # noqa: BLE001 - a storage hiccup must not undo a committed delete
            logger.exception("could not delete stored file %s; it is now an orphan", name)


@transaction.atomic
def media_delete(*, media: Media, audit: AuditContext = SYSTEM) -> None:
    """Delete the media, its runs and analyses, then (once that is committed) its stored files.

    Tasks still working on it notice the rows are gone and stop without recreating anything. The
    owner's audit trail keeps a MEDIA_DELETED row naming `audit`'s actor: it has no foreign key
    to the media, so it outlives it.
    """
    names = [name for name in (media.file.name, media.thumbnail.name) if name]
    media_id = media.pk
    audit_record(
        action=AuditAction.MEDIA_DELETED,
        owner_id=media.owner_id,
        context=audit,
        target=media,
        details={
            "filename": media.original_filename,
            "sha256": media.sha256,
            "runs": media.runs.count(),
        },
    )
    media.delete()
    transaction.on_commit(lambda: _delete_stored_files(names))
    logger.info("deleted media %s and %d stored file(s)", media_id, len(names))
