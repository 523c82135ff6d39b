"""Import the Node version's PostgreSQL database (users, media and their files, runs, analyses,
server health), reading it read-only; running it again adds only what is missing."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from legacy.importer import (
    DEFAULT_DOWNLOAD_TIMEOUT_SECONDS,
    ImportReport,
    LegacySourceError,
    legacy_database_import,
)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database-url",
            required=True,
            help="The old database, e.g. postgres://user:pass@host:5432/drishtiksha (only read).",
        )
        parser.add_argument(
            "--media-root",
            type=Path,
            default=None,
            help="The old system's local upload folder; files are looked up there first, by the "
            "row's publicId and url, and downloaded from an http(s) url otherwise.",
        )
        parser.add_argument(
            "--download-timeout",
            type=float,
            default=DEFAULT_DOWNLOAD_TIMEOUT_SECONDS,
            help="Seconds to wait for a file server (Cloudinary) to answer.",
        )

    def handle(self, *args, **options) -> None:
        try:
            report = legacy_database_import(
                database_url=options["database_url"],
                media_root=options["media_root"],
                download_timeout=options["download_timeout"],
            )
        except LegacySourceError as exc:
            raise CommandError(str(exc)) from exc
        self._print(report, verbosity=options["verbosity"])

    def _print(self, report: ImportReport, *, verbosity: int) -> None:
        width = max(len(table) for table in report.counts)
        for table, counts in report.counts.items():
            self.stdout.write(
                f"{table:<{width}}  {counts.imported} imported, {counts.present} already present, "
                f"{counts.skipped} skipped"
            )
        if report.skipped:
            self.stdout.write("Skipped rows:")
            for row in report.skipped:
                self.stdout.write(f"  {row.table} {row.legacy_id}: {row.reason}")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(warning))
        if report.derived_ids:
            self.stdout.write(
                f"{len(report.derived_ids)} old id(s) were not UUIDs and became uuid5 ids derived "
                "from the table and the old id (the same on every import)"
                + (":" if verbosity >= 2 else "; -v 2 lists them.")
            )
            if verbosity >= 2:
                for item in report.derived_ids:
                    self.stdout.write(f"  {item.table} {item.legacy_id} -> {item.new_id}")
