"""Run a labelled set (a folder or a ZIP with labels.csv) through the pipeline and measure each
model: ROC AUC, accuracy, precision, recall and a reliability table per model and media type.

A worker must be running: every item is an ordinary upload with an ordinary run.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from drishtiksha.errors import DomainError
from media_analysis.evaluation.models import Evaluation, EvaluationStatus
from media_analysis.evaluation.report import reliability_text_table
from media_analysis.evaluation.services import (
    evaluation_finish_if_settled,
    evaluation_progress,
    evaluation_set_open,
    evaluation_start,
)
from media_analysis.management.owners import command_owner

POLL_INTERVAL_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 1800


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="Folder or ZIP archive of media files.")
        parser.add_argument(
            "--labels",
            type=Path,
            default=None,
            help="CSV with the columns filename,label (REAL or FAKE); default: the set's "
            "own labels.csv.",
        )
        parser.add_argument("--name", default="", help="Name of the evaluation.")
        parser.add_argument(
            "--owner",
            dest="email",
            help="Email of the account the items are uploaded as (default: the first superuser).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT_SECONDS,
            help="Seconds to wait for every run to finish.",
        )

    def handle(self, *args, **options) -> None:
        source = Path(options["source"]).expanduser()
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        labels = options["labels"].expanduser() if options["labels"] else None
        owner = command_owner(options["email"], option="--owner")
        try:
            with evaluation_set_open(source=source, labels=labels) as (folder, labels_file):
                started = evaluation_start(
                    name=options["name"] or source.stem,
                    created_by=owner,
                    folder=folder,
                    labels=labels_file,
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for skipped in started.skipped:
            self.stderr.write(f"skipped {skipped.name}: {skipped.reason}")
        evaluation = started.evaluation
        self.stdout.write(
            f"Evaluation {evaluation.name} ({evaluation.pk}): {evaluation.item_count} item(s) "
            f"uploaded as {owner.email}, {len(started.skipped)} skipped."
        )
        evaluation = self._wait(evaluation, timeout=options["timeout"])
        self.stdout.write(reliability_text_table(evaluation=evaluation))
        if evaluation.status == EvaluationStatus.TIMED_OUT:
            raise CommandError(
                f"Timed out after {options['timeout']:.0f} s: runs still open were counted as "
                "failed. Is a worker running?"
            )

    def _wait(self, evaluation: Evaluation, *, timeout: float) -> Evaluation:
        shown = None
        while True:
            finished = evaluation_finish_if_settled(
                evaluation_id=evaluation.pk, timeout_seconds=timeout
            )
            if finished is not None:
                return finished
            final, total = evaluation_progress(evaluation=evaluation)
            if (final, total) != shown:
                self.stdout.write(f"{final}/{total} runs final")
                shown = (final, total)
            time.sleep(POLL_INTERVAL_SECONDS)
