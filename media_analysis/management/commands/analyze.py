"""Ingest a local file through the same service as uploads, optionally waiting for the verdict."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from drishtiksha.errors import DomainError
from media_analysis.choices import RunStatus
from media_analysis.management.owners import command_owner
from media_analysis.models import AnalysisRun
from media_analysis.services.ingest import media_ingest

POLL_INTERVAL_SECONDS = 1.0
DEFAULT_WAIT_TIMEOUT_SECONDS = 1800


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Local video, image or audio file.")
        parser.add_argument(
            "--user",
            dest="email",
            help="Owner's email (default: the earliest superuser).",
        )
        parser.add_argument(
            "--models",
            nargs="+",
            default=None,
            help="Model names to run (space- or comma-separated; default: every compatible one).",
        )
        parser.add_argument("--description", default="", help="Description to store.")
        parser.add_argument(
            "--wait", action="store_true", help="Wait for the run and print the verdict table."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_WAIT_TIMEOUT_SECONDS,
            help="Seconds to wait with --wait.",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["path"]).expanduser()
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        owner = command_owner(options["email"], option="--user")
        models = None
        if options["models"]:
            models = [name.strip() for item in options["models"] for name in item.split(",")]
            models = [name for name in models if name]
        try:
            with path.open("rb") as handle:
                result = media_ingest(
                    owner=owner,
                    upload=File(handle, name=path.name),
                    filename=path.name,
                    description=options["description"],
                    model_names=models,
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc

        media = result.media
        self.stdout.write(f"Media {media.pk} ({media.media_type}) owned by {owner.email}")
        if result.duplicate_of is not None:
            self.stdout.write(f"Same content as earlier media {result.duplicate_of.pk}")
        self.stdout.write(f"Run #{media.latest_run.run_number} {media.latest_run.pk} queued")
        if options["wait"]:
            run = self._wait(media.latest_run.pk, options["timeout"])
            self._print_table(run)

    def _wait(self, run_id, timeout: float) -> AnalysisRun:
        deadline = time.monotonic() + timeout
        while True:
            run = AnalysisRun.objects.get(pk=run_id)
            if run.status in RunStatus.final():
                return AnalysisRun.objects.prefetch_related("analyses").get(pk=run_id)
            if time.monotonic() > deadline:
                raise CommandError(f"Run {run_id} is still {run.status} after {timeout:g} s.")
            time.sleep(POLL_INTERVAL_SECONDS)

    def _print_table(self, run: AnalysisRun) -> None:
        rows = [("MODEL", "STATUS", "PREDICTION", "CONFIDENCE", "TIME (s)", "ERROR")]
        for analysis in run.analyses.all():
            rows.append(
                (
                    analysis.model_name,
                    analysis.status,
                    analysis.prediction or "-",
                    f"{analysis.confidence:.1%}" if analysis.confidence is not None else "-",
                    f"{analysis.processing_time:.2f}"
                    if analysis.processing_time is not None
                    else "-",
                    analysis.error_message[:60] or "",
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            )
        score = f"{run.fake_score:.1%}" if run.fake_score is not None else "-"
        agreement = f"{run.agreement:.0%}" if run.agreement is not None else "-"
        self.stdout.write(
            f"\nRun #{run.run_number}: {run.status}; verdict {run.verdict or '-'} "
            f"(fake score {score}, agreement {agreement})"
        )
        if run.error_message:
            self.stdout.write(f"Reason: {run.error_message}")
