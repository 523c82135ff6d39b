"""What happens to a labelled set: read labels → ingest each item → wait → measure each model.

    evaluation_start ──► one media item per labelled file, through `media_ingest` (its normal run)
        │
        └─ evaluation_finish_if_settled (the command polls it; the admin's task re-schedules
           itself) ──► every item's run final, or EVALUATION_TIMEOUT_SECONDS passed
                          ──► evaluation_finish: one ModelReliability per (model, media type)

A set is a folder or a ZIP archive of media files with `labels.csv` (columns `filename,label`,
label REAL or FAKE). Rows that cannot be used (a missing file, an unknown label, an upload the
service refuses) are skipped with the reason and reported; they never stop the rest.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from drishtiksha.errors import DomainError, ValidationFailed
from drishtiksha.task_send import task_send
from media_analysis.choices import AnalysisStatus, Prediction, RunStatus
from media_analysis.evaluation import metrics
from media_analysis.evaluation.models import (
    Evaluation,
    EvaluationItem,
    EvaluationStatus,
    ModelReliability,
)
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.services.ingest import media_ingest
from media_analysis.task_names import EVALUATION_FINALIZE
from media_analysis.verdict import fake_probability

logger = logging.getLogger(__name__)

LABELS_FILENAME = "labels.csv"
COPY_CHUNK_BYTES = 1024 * 1024


class EvaluationSetInvalid(ValidationFailed):
    default_message = "The evaluation set cannot be read."


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    name: str
    label: str


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass(frozen=True)
class EvaluationStarted:
    evaluation: Evaluation
    skipped: list[Skipped]


# --- Reading a set --------------------------------------------------------------------------------


def labels_read(*, labels: Path, folder: Path) -> tuple[list[LabelledFile], list[Skipped]]:
    """The usable rows of `labels` (files inside `folder`), and the others with their reasons."""
    try:
        text = labels.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationSetInvalid(f"{labels.name} cannot be read: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    columns = {name.strip().lower() for name in reader.fieldnames or []}
    if not {"filename", "label"} <= columns:
        raise EvaluationSetInvalid(f"{labels.name} needs the columns filename,label.")
    root = folder.resolve()
    usable: list[LabelledFile] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for row in reader:
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        name, label = row.get("filename", ""), row.get("label", "").upper()
        path = (root / name).resolve()
        if not name:
            skipped.append(Skipped(name="(empty)", reason="no filename"))
        elif name in seen:
            skipped.append(Skipped(name=name, reason="listed more than once"))
        elif label not in Prediction.values:
            skipped.append(Skipped(name=name, reason=f"unknown label {label!r} (REAL or FAKE)"))
        elif not path.is_relative_to(root) or not path.is_file():
            skipped.append(Skipped(name=name, reason="no such file in the set"))
        else:
            usable.append(LabelledFile(path=path, name=name, label=label))
        seen.add(name)
    if len(usable) > settings.EVALUATION_MAX_ITEMS:
        raise EvaluationSetInvalid(
            f"The set has {len(usable)} items; at most {settings.EVALUATION_MAX_ITEMS} are allowed."
        )
    return usable, skipped


def _archive_extract(archive: zipfile.ZipFile, target: Path) -> None:
    """Unpack the archive's files, refusing paths out of `target` and oversized members.

    The declared sizes are what `zipfile` reads up to, so bounding them bounds what is written.
    """
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > settings.EVALUATION_MAX_ITEMS + 1:
        raise EvaluationSetInvalid(
            f"The archive holds {len(members)} files; at most {settings.EVALUATION_MAX_ITEMS} "
            f"items and {LABELS_FILENAME} are allowed."
        )
    for info in members:
        relative = PurePosixPath(info.filename)
        if relative.is_absolute() or ".." in relative.parts:
            raise EvaluationSetInvalid(f"The archive member {info.filename!r} leaves the archive.")
        if info.file_size > settings.MAX_UPLOAD_SIZE:
            raise EvaluationSetInvalid(f"{info.filename} is larger than the upload limit.")
        destination = target.joinpath(*relative.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, destination.open("wb") as sink:
            while chunk := source.read(COPY_CHUNK_BYTES):
                sink.write(chunk)


@contextmanager
def evaluation_set_open(
    *, source: Path | IO[bytes], labels: Path | None = None
) -> Iterator[tuple[Path, Path]]:
    """(folder, labels file) of a set given as a folder, a ZIP path or an open ZIP file.

    `labels` defaults to the set's own labels.csv; an archive is unpacked into a temporary folder
    that is gone when the block ends.
    """
    if isinstance(source, Path) and source.is_dir():
        yield source, labels or source / LABELS_FILENAME
        return
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise EvaluationSetInvalid("The set is neither a folder nor a ZIP archive.") from exc
    with archive, tempfile.TemporaryDirectory(prefix="evaluation-") as workdir:
        folder = Path(workdir)
        try:
            _archive_extract(archive, folder)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            raise EvaluationSetInvalid(f"The archive cannot be unpacked: {exc}") from exc
        found = labels or folder / LABELS_FILENAME
        if not found.is_file():
            raise EvaluationSetInvalid(f"The archive has no {LABELS_FILENAME}.")
        yield folder, found


# --- Starting ---------------------------------------------------------------------------------


def _item_ingest(*, evaluation: Evaluation, owner: User, item: LabelledFile) -> None:
    with item.path.open("rb") as handle:
        result = media_ingest(
            owner=owner,
            upload=File(handle, name=item.path.name),
            filename=item.path.name,
            description=f"Item of the evaluation “{evaluation.name}”.",
        )
    EvaluationItem.objects.create(
        evaluation=evaluation,
        media=result.media,
        run=result.media.latest_run,
        label=item.label,
        source_name=item.name,
    )


def evaluation_start(
    *,
    name: str,
    created_by: User,
    folder: Path,
    labels: Path,
    finish_later: bool = False,
) -> EvaluationStarted:
    """Create an evaluation and ingest every usable row of `labels` as `created_by`'s upload.

    Each item is its own upload (committed, and its run started, at once), so the first runs
    are under way while later items are still being stored. With `finish_later` a housekeeping
    task closes the evaluation once every run is final; otherwise the caller does
    (`evaluation_finish_if_settled`).
    """
    usable, skipped = labels_read(labels=labels, folder=folder)
    if not usable:
        raise EvaluationSetInvalid(f"{labels.name} lists no usable item.")
    evaluation = Evaluation.objects.create(name=name.strip() or folder.name, created_by=created_by)
    ingested = 0
    for item in usable:
        try:
            _item_ingest(evaluation=evaluation, owner=created_by, item=item)
        except DomainError as exc:
            skipped.append(Skipped(name=item.name, reason=exc.message))
        else:
            ingested += 1
    evaluation.item_count = ingested
    evaluation.skipped = [{"name": s.name, "reason": s.reason} for s in skipped]
    evaluation.save(update_fields=["item_count", "skipped"])
    logger.info(
        "evaluation %s started: %d items, %d skipped", evaluation.pk, ingested, len(skipped)
    )
    if finish_later:
        transaction.on_commit(
            partial(task_send, EVALUATION_FINALIZE, {"evaluation_id": str(evaluation.pk)})
        )
    return EvaluationStarted(evaluation=evaluation, skipped=skipped)


# --- Finishing --------------------------------------------------------------------------------


def evaluation_progress(*, evaluation: Evaluation) -> tuple[int, int]:
    """(runs final, items): an item whose run was deleted counts as final."""
    items = evaluation.items.count()
    open_runs = AnalysisRun.objects.filter(
        pk__in=evaluation.items.values("run_id"), status__in=RunStatus.active()
    ).count()
    return items - open_runs, items


def _model_reliability(
    *,
    evaluation: Evaluation,
    model_name: str,
    media_type: str,
    rows: list[tuple[DeepfakeAnalysis, bool]],
) -> ModelReliability:
    scored = [
        (analysis, is_fake)
        for analysis, is_fake in rows
        if analysis.status == AnalysisStatus.COMPLETED
        and analysis.prediction in Prediction.values
        and analysis.confidence is not None
    ]
    probabilities = [
        fake_probability(prediction=analysis.prediction, confidence=analysis.confidence)
        for analysis, _ in scored
    ]
    labels = [is_fake for _, is_fake in scored]
    decided = metrics.decisions(
        predicted_fake=[analysis.prediction == Prediction.FAKE for analysis, _ in scored],
        is_fake=labels,
    )
    abstained = sum(1 for analysis, _ in rows if analysis.status == AnalysisStatus.ABSTAINED)
    return ModelReliability(
        evaluation=evaluation,
        model_name=model_name,
        media_type=media_type,
        count=len(scored),
        abstained=abstained,
        # Whatever neither completed nor abstained: failed, or still open when time ran out.
        failed=len(rows) - len(scored) - abstained,
        auc=metrics.roc_auc(probabilities=probabilities, is_fake=labels),
        accuracy=decided.accuracy,
        precision=decided.precision,
        recall=decided.recall,
        thresholds={
            "decision": "the model's own prediction; FAKE is the positive class",
            "verdict_fake_threshold": settings.VERDICT_FAKE_THRESHOLD,
            "verdict_real_threshold": settings.VERDICT_REAL_THRESHOLD,
        },
        reliability_table=metrics.reliability_table(
            probabilities=probabilities,
            is_fake=labels,
            bins=settings.EVALUATION_CALIBRATION_BINS,
        ),
    )


def evaluation_finish(*, evaluation_id: Any, timed_out: bool = False) -> Evaluation:
    """Store one ModelReliability per (model, media type) and close the evaluation, once.

    Cost: one query for the items' analyses (payloads left in the database) and one bulk insert.
    """
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().get(pk=evaluation_id)
        if evaluation.status != EvaluationStatus.RUNNING:
            return evaluation
        labels = dict(evaluation.items.values_list("run_id", "label"))
        analyses = (
            DeepfakeAnalysis.objects.filter(run_id__in=[run for run in labels if run])
            .select_related("run__media")
            .defer("result_payload", "error_details")
        )
        groups: dict[tuple[str, str], list[tuple[DeepfakeAnalysis, bool]]] = defaultdict(list)
        for analysis in analyses:
            media_type = analysis.media_type or analysis.run.media.media_type
            is_fake = labels[analysis.run_id] == Prediction.FAKE
            groups[(analysis.model_name, media_type)].append((analysis, is_fake))
        ModelReliability.objects.bulk_create(
            _model_reliability(
                evaluation=evaluation, model_name=model_name, media_type=media_type, rows=rows
            )
            for (model_name, media_type), rows in sorted(groups.items())
        )
        evaluation.status = EvaluationStatus.TIMED_OUT if timed_out else EvaluationStatus.FINISHED
        evaluation.finished_at = timezone.now()
        evaluation.save(update_fields=["status", "finished_at"])
    logger.info("evaluation %s closed: %s", evaluation.pk, evaluation.status)
    return evaluation


def evaluation_finish_if_settled(
    *, evaluation_id: Any, timeout_seconds: float | None = None
) -> Evaluation | None:
    """Close the evaluation when every item's run is final, or as TIMED_OUT once
    `timeout_seconds` (EVALUATION_TIMEOUT_SECONDS) have passed since it was created; None while
    it should still wait."""
    evaluation = Evaluation.objects.get(pk=evaluation_id)
    if evaluation.status != EvaluationStatus.RUNNING:
        return evaluation
    final, total = evaluation_progress(evaluation=evaluation)
    if final >= total:
        return evaluation_finish(evaluation_id=evaluation.pk)
    limit = settings.EVALUATION_TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds
    if timezone.now() - evaluation.created_at >= timedelta(seconds=limit):
        return evaluation_finish(evaluation_id=evaluation.pk, timed_out=True)
    return None
