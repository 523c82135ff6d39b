"""Starting a run: `run_start` checks the requested models, creates the run and, on commit,
either its analyses' chord or its dispatch task.

    run_start ──► one PENDING row per model ──(on commit)──► chord( analysis_execute × N )
        │
        └─ a new upload, or the inference server unreachable: no rows yet; the dispatch task
           probes the upload and retries discovery ──► run_dispatch
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditAction
from audit.services import SYSTEM, AuditContext, audit_record
from drishtiksha.errors import NotFound, ValidationFailed
from media_analysis import discovery, ml_client
from media_analysis.choices import MediaType, RunStatus
from media_analysis.discovery import InferenceModel
from media_analysis.models import AnalysisRun, Media
from media_analysis.pipeline.common import RunInProgress, after_commit, run_label
from media_analysis.pipeline.dispatch import (
    analyses_create,
    models_select,
    no_model_message,
    run_dispatch_enqueue,
)
from media_analysis.pipeline.finish import media_status_set, run_close

logger = logging.getLogger(__name__)


def _requested_names(model_names: Sequence[str] | None) -> list[str] | None:
    if model_names is None:
        return None
    if isinstance(model_names, str):
        model_names = [model_names]
    names = list(dict.fromkeys(name.strip() for name in model_names if name and name.strip()))
    if not names:
        message = "Name at least one model, or leave the list out to run every compatible one."
        raise ValidationFailed(message, field_errors={"models": message})
    return names


def _requested_check(
    *, media: Media, available: list[InferenceModel], requested: list[str]
) -> None:
    """Before the probe, refuse the model names that cannot run on media of this type.

    Whether a video has the sound an audio-visual model needs is known only once it is probed;
    until then it is assumed to, and the dispatch checks again.
    """
    hopeful = copy.copy(media)
    if media.media_type == MediaType.VIDEO:
        hopeful.has_audio = True
    models_select(media=hopeful, available=available, requested=requested)


def run_start(
    *,
    media: Media,
    model_names: Sequence[str] | None = None,
    new_media: bool = False,
    audit: AuditContext = SYSTEM,
) -> AnalysisRun:
    """Start a new run of `media` on every compatible model, or on `model_names`.

    Safe inside a caller's transaction (the upload's): the tasks are enqueued only once it
    commits. Raises `ValidationFailed` for unknown or incompatible model names and
    `RunInProgress` when a run of this media is still queued or running. When the media is a new
    upload not yet probed, or the inference server cannot be asked which models it has, the run
    is created QUEUED without analyses and a dispatch task does the rest (see `run_dispatch`);
    nothing fails here.

    `new_media` says that the caller created `media` in its own transaction, still open: no
    other transaction can see the row, so run #1 is inserted without locking it or looking for
    other runs (seven statements fewer for an upload). A run started on existing media writes a
    RUN_STARTED row to the owner's audit trail, naming `audit`'s actor; run #1 of an upload is
    recorded by the upload's own row.
    """
    if new_media and not transaction.get_connection().in_atomic_block:
        raise ValueError("new_media needs the transaction that created the media to be open")
    requested = _requested_names(model_names)
    try:
        available: list[InferenceModel] | None = discovery.models_list()
    except ml_client.InferenceError as exc:
        logger.warning("model discovery failed, run dispatch deferred: %s", exc.message)
        available = None
    selected: list[str] | None = None
    if available is not None and media.prepared_at is None:
        # A new upload is probed by the dispatch task first, which then picks the models.
        if requested is not None:
            _requested_check(media=media, available=available, requested=requested)
    elif available is not None:
        selected = models_select(media=media, available=available, requested=requested)

    with transaction.atomic(savepoint=not new_media):
        if new_media:
            locked = media
            run = _run_insert(media=media, run_number=1, requested=requested)
        else:
            locked = _media_lock_idle(media)
            run = _run_insert_next(media=locked, requested=requested)
        media_updated_at = timezone.now()
        media_status_set(
            run_id=run.pk, status=RunStatus.QUEUED, at=media_updated_at, media_id=locked.pk
        )
        if not new_media:
            audit_record(
                action=AuditAction.RUN_STARTED,
                owner_id=locked.owner_id,
                context=audit,
                target=run,
                target_label=run_label(filename=locked.original_filename, run=run),
                details={"media_id": str(locked.pk), "requested_models": run.requested_models},
            )
        if selected is None:
            after_commit(run_dispatch_enqueue, run_id=run.pk)
        elif not selected:
            # The media follows the run to FAILED, stamped with the run's own `updated_at`.
            run_close(run=run, status=RunStatus.FAILED, message=no_model_message(media))
            media_updated_at = run.updated_at
        else:
            analyses_create(run=run, media=locked, models=available, model_names=selected)
    # `run` and `media` are left as this transaction wrote them, with no read-back: the caller
    # gets the run as started (QUEUED, or FAILED with its reason), not whatever a fast worker
    # made of it once the commit let the chord loose.
    media.latest_run, media.status, media.updated_at = run, run.status, media_updated_at
    logger.info(
        "run #%d of media %s started: %s",
        run.run_number,
        media.pk,
        ", ".join(selected) if selected else (run.error_message or "dispatch deferred"),
    )
    return run


def _media_lock_idle(media: Media) -> Media:
    """Lock the media row, which serialises concurrent starts for one media item; refuse while a
    run of it is still queued or running."""
    locked = Media.objects.select_for_update().filter(pk=media.pk).first()
    if locked is None:
        raise NotFound("Media not found.")
    if AnalysisRun.objects.filter(media=locked, status__in=RunStatus.active()).exists():
        raise RunInProgress()
    return locked


def _run_insert(*, media: Media, run_number: int, requested: list[str] | None) -> AnalysisRun:
    return AnalysisRun.objects.create(
        media=media,
        run_number=run_number,
        status=RunStatus.QUEUED,
        requested_models=requested or [],
    )


def _run_insert_next(*, media: Media, requested: list[str] | None) -> AnalysisRun:
    """The media's next run; the unique (media, run_number) constraint is the last line of
    defence against a start that raced this one."""
    last_number = AnalysisRun.objects.filter(media=media).aggregate(last=Max("run_number"))["last"]
    try:
        with transaction.atomic():
            return _run_insert(media=media, run_number=(last_number or 0) + 1, requested=requested)
    except IntegrityError as exc:
        raise RunInProgress(
            "Another analysis of this media was started at the same moment."
        ) from exc
