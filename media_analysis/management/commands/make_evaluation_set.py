"""Write the project's own small labelled evaluation set (media files and labels.csv) into a
folder, for `manage.py evaluate`. Deterministic: the same seed writes the same set."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from media_analysis.evaluation.generate import evaluation_set_make


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="Folder to write (created if missing).")
        parser.add_argument("--seed", type=int, default=15, help="Seed of the generators.")

    def handle(self, *args, **options) -> None:
        folder = options["folder"].expanduser()
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        if shutil.which("ffmpeg") is None:
            raise CommandError("ffmpeg is needed to write the audio and video items.")
        items = evaluation_set_make(folder=folder, seed=options["seed"])
        for item in items:
            self.stdout.write(f"{item.label:4}  {item.filename:28}  {item.how}")
        labels = Counter(item.label for item in items)
        self.stdout.write(
            f"Wrote {len(items)} items ({labels['REAL']} REAL, {labels['FAKE']} FAKE) and "
            f"labels.csv to {folder}."
        )
        if shutil.which("espeak-ng") is None:
            self.stderr.write("espeak-ng is not installed: the synthesised speech is left out.")
