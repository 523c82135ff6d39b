"""Dispatching a run: pick its models and send one analysis task per model, as a chord.

    analyses_create ──(on commit)──► chord( analysis_execute × N ) ──callback──► run_finalize

A run started on a new upload, or while the inference server was unreachable, has no analyses
yet: `run_dispatch` (its own task) probes the upload, asks the server again and then does it.
Tasks are sent by name (`media_analysis.task_names`, `drishtiksha.task_send`), never by importing
`media_analysis.tasks`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import chord
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from drishtiksha.errors import NotFound, UnsupportedMediaType, ValidationFailed
from drishtiksha.task_send import task_send, task_signature
from media_analysis import discovery, ml_client
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.discovery import InferenceModel
from media_analysis.events import EventSpec, ProgressEvent, events_publish
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.pipeline.common import InferenceUnavailable, after_commit, run_get
from media_analysis.pipeline.finish import run_close
from media_analysis.services.prepare import REFUSED_PREFIX, media_prepare
from media_analysis.task_names import ANALYSIS_EXECUTE, RUN_DISPATCH, RUN_FINALIZE

logger = logging.getLogger(__name__)


def media_kind(media: Media) -> str:
    """How the messages that refuse models name this media (its type, and a video's sound)."""
    if media.media_type == MediaType.VIDEO:
        return "video with an audio track" if media.has_audio else "video without an audio track"
    if media.media_type == MediaType.AUDIO:
        return "audio file"
    if media.media_type == MediaType.IMAGE:
        return "image"
    return "file of an unknown type"


def models_select(
    *, media: Media, available: list[InferenceModel], requested: list[str] | None
) -> list[str]:
    """The model names to run: every compatible one, or the requested ones if all compatible."""
    compatible = [
        model.name for model in available if discovery.model_can_analyse(model=model, media=media)
    ]
    if requested is None:
        return compatible
    known = {model.name for model in available}
    unknown = [name for name in requested if name not in known]
    unusable = [name for name in requested if name in known and name not in compatible]
    if unknown or unusable:
        problems = []
        if unknown:
            problems.append(f"unknown model(s): {', '.join(unknown)}")
        if unusable:
            extension = ml_client.upload_extension(media=media)
            kind = f"{media_kind(media)} (.{extension})" if extension else media_kind(media)
            problems.append(f"not loaded or unable to analyse this {kind}: {', '.join(unusable)}")
        choices = ", ".join(compatible) or "none"
        message = f"Cannot run {'; '.join(problems)}. Compatible models: {choices}."
        raise ValidationFailed(message, field_errors={"models": message})
    return requested


def no_model_message(media: Media) -> str:
    """The reason a run fails when no loaded model can analyse its media."""
    return f"No model loaded on the inference server can analyse this {media_kind(media)}."


def analyses_create(
    *, run: AnalysisRun, media: Media, models: list[InferenceModel], model_names: list[str]
) -> None:
    """One PENDING row per model, and the chord that runs them once the rows are committed.

    Each row keeps the server's description of its model (`models`, the list the names were
    chosen from): the reports explain the detector even once the server no longer lists it.
    """
    descriptions = {model.name: model.description for model in models}
    analyses = DeepfakeAnalysis.objects.bulk_create(
        DeepfakeAnalysis(
            run=run,
            model_name=name,
            model_description=descriptions.get(name, ""),
            task_id=str(uuid.uuid4()),
        )
        for name in model_names
    )
    after_commit(
        _chord_enqueue,
        run_id=run.pk,
        media_id=media.pk,
        user_id=media.owner_id,
        analyses=[(analysis.pk, analysis.model_name, analysis.task_id) for analysis in analyses],
    )


def _chord_enqueue(
    *,
    run_id: uuid.UUID,
    media_id: uuid.UUID,
    user_id: uuid.UUID,
    analyses: list[tuple[uuid.UUID, str, str]],
) -> None:
    # Queued events go out before the tasks exist, so that their sequence numbers come first.
    events_publish(
        user_id=user_id,
        media_id=media_id,
        run_id=run_id,
        events=[
            EventSpec(
                ProgressEvent.ANALYSIS_QUEUED,
                model_name,
                {"analysisId": str(analysis_id), "status": AnalysisStatus.PENDING},
            )
            for analysis_id, model_name, _ in analyses
        ],
    )
    header = [
        task_signature(ANALYSIS_EXECUTE, analysis_id=str(analysis_id)).set(
            task_id=task_id, immutable=True
        )
        for analysis_id, _, task_id in analyses
    ]
    try:
        chord(header)(task_signature(RUN_FINALIZE, run_id=str(run_id)).set(immutable=True))
    except Exception:  # noqa: BLE001 - the broker is down; the rows are committed either way
        # Left as they are, the rows would wait out the whole queued timeout (an hour by
        # default) before the reaper re-sent them. Back-dated, they are re-sent by the first
        # sweep once the broker answers again; any part of the chord that did get out is
        # harmless, as a redelivered analysis is never done twice.
        logger.exception("run %s: could not enqueue its analyses; the reaper will", run_id)
        overdue = timezone.now() - timedelta(seconds=settings.ANALYSIS_QUEUED_TIMEOUT_SECONDS + 1)
        DeepfakeAnalysis.objects.filter(
            run_id=run_id, status=AnalysisStatus.PENDING, attempts=0
        ).update(updated_at=overdue)


def run_dispatch_enqueue(*, run_id: uuid.UUID) -> None:
    """Send the run's dispatch task (`run_dispatch`); call it once the run is committed."""
    task_send(RUN_DISPATCH, {"run_id": str(run_id)})


def run_dispatch(*, run_id: uuid.UUID | str) -> AnalysisRun:
    """Create the analyses of a run started on a new upload or while the inference server was
    unreachable.

    A new upload is probed first (`media_prepare`); a file the probe refuses fails the run with
    the reason, and no model sees it. Then the models are picked.
    Raises `InferenceUnavailable` while the server still cannot be asked, so that the caller
    retries later; once ANALYSIS_DISCOVERY_TIMEOUT_SECONDS have passed since the run was created,
    fails the run instead, with the reason. A run that already has analyses is left alone, so
    a duplicate dispatch is harmless.
    """
    run = run_get(run_id)
    if run.status not in RunStatus.active() or run.analyses.exists():
        return run
    if run.media.prepared_at is None:
        try:
            media_prepare(media=run.media)
        except (ValidationFailed, UnsupportedMediaType) as exc:
            message = f"{REFUSED_PREFIX}{exc.message}"
            run_close(run=run, status=RunStatus.FAILED, message=message)
            logger.info("run %s: media %s refused: %s", run.pk, run.media_id, exc.message)
            return run_get(run_id)
        except FileNotFoundError:
            run_close(run=run, status=RunStatus.FAILED, message="The stored file is missing.")
            logger.warning("run %s: the stored file of media %s is missing", run.pk, run.media_id)
            return run_get(run_id)
    try:
        available = discovery.models_list()
    except ml_client.InferenceError as exc:
        now = timezone.now()
        waited = (now - run.created_at).total_seconds()
        if waited < settings.ANALYSIS_DISCOVERY_TIMEOUT_SECONDS:
            # Fresh `updated_at` tells the reaper this run's dispatch is alive.
            AnalysisRun.objects.filter(pk=run.pk).update(updated_at=now)
            raise InferenceUnavailable(exc.message) from exc
        run_close(
            run=run,
            status=RunStatus.FAILED,
            message=(
                f"The inference server could not be reached for {waited / 60:.0f} minute(s): "
                f"{exc.message}"
            ),
        )
        return run_get(run_id)

    try:
        selected = models_select(
            media=run.media, available=available, requested=run.requested_models or None
        )
    except ValidationFailed as exc:
        run_close(run=run, status=RunStatus.FAILED, message=exc.message)
        return run_get(run_id)

    with transaction.atomic():
        locked = AnalysisRun.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None:
            raise NotFound("Run not found.")
        if locked.status not in RunStatus.active() or locked.analyses.exists():
            return locked
        if selected:
            analyses_create(run=locked, media=run.media, models=available, model_names=selected)
        else:
            run_close(run=locked, status=RunStatus.FAILED, message=no_model_message(run.media))
    logger.info("run %s dispatched to %s", run.pk, ", ".join(selected) or "no model")
    return run_get(run_id)
