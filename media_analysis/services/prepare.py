"""What a worker does with an upload before its first analysis: probe it and make its poster.

The upload itself is answered after the cheap checks (size, extension, content signature, no
appended archive, hash) and the store; the checks that start ffprobe and ffmpeg, about 0.2 s of
CPU per file, run here, in the run's dispatch task. A file they refuse is never sent to a model:
its run fails with the reason, which the user sees where the verdict would be.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from drishtiksha.task_send import task_send
from media_analysis.choices import MediaType
from media_analysis.file_delivery import stored_copy
from media_analysis.formats import THUMBNAIL_FOLDER
from media_analysis.models import Media
from media_analysis.probe import make_poster, probe_media
from media_analysis.task_names import ROBUSTNESS_COPY_MAKE

logger = logging.getLogger(__name__)

# How the error message of a run whose file the probe refused begins.
REFUSED_PREFIX = "The file was refused: "


def media_prepare(*, media: Media) -> Media:
    """Probe `media`'s stored file, keep its metadata and poster, and mark it prepared.

    Raises `ValidationFailed` or `UnsupportedMediaType` (with the reason to show) when the file
    is refused; it then stays unprepared, so that every later run is refused too. Safe to call
    twice at once: only the first to finish records its result; the other's poster is removed.
    A robustness copy, when asked for, is made only once the original has passed.
    """
    if media.prepared_at is not None:
        return media
    media_type = MediaType(media.media_type)
    thumbnail_name = ""
    with stored_copy(media.file) as path:
        probed = probe_media(path, media_type=media_type)
        if media_type in (MediaType.VIDEO, MediaType.IMAGE):
            with tempfile.TemporaryDirectory(prefix="poster-") as workdir:
                poster = Path(workdir) / "poster.jpg"
                make_poster(path, poster, media_type=media_type, duration=probed.duration)
                with poster.open("rb") as handle:
                    thumbnail_name = default_storage.save(
                        f"{THUMBNAIL_FOLDER}/{media.pk}.jpg", File(handle)
                    )
    fields = {
        "metadata": probed.metadata,
        "has_audio": probed.has_audio if media_type == MediaType.VIDEO else None,
        "thumbnail": thumbnail_name,
        "prepared_at": timezone.now(),
    }
    recorded = Media.objects.filter(pk=media.pk, prepared_at__isnull=True).update(
        **fields, updated_at=timezone.now()
    )
    if not recorded:
        # Prepared by another task meanwhile, or deleted: this poster belongs to nothing.
        if thumbnail_name:
            default_storage.delete(thumbnail_name)
        media.refresh_from_db()
        return media
    for name, value in fields.items():
        setattr(media, name, value)
    logger.info("media %s prepared (%s)", media.pk, probed.demuxer)
    if media.robustness_requested:
        _robustness_copy_enqueue(media_id=media.pk)
    return media


def _robustness_copy_enqueue(*, media_id: uuid.UUID) -> None:
    try:
        task_send(ROBUSTNESS_COPY_MAKE, {"media_id": str(media_id)})
    except Exception:  # noqa: BLE001 - the broker is down; the original's run goes on
        logger.exception("media %s: could not enqueue its robustness copy", media_id)
