"""The robustness check: does the verdict survive a re-encode?

A verdict that flips when the file is re-encoded (as every messaging app and social network does)
measures the encoding, not the content: the same synthetic voice read "Likely authentic" as WAV
and "Likely deepfake" as MP3. On request, a re-encoded copy of the upload is made after the
upload has been answered, analysed as media of its own (linked to the original, kept out of the
library), and the two latest verdicts are compared.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from media_analysis.choices import MediaType, RunStatus, Verdict
from media_analysis.file_delivery import stored_copy
from media_analysis.models import Media

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reencoding:
    extension: str
    ffmpeg_options: tuple[str, ...]
    description: str


# What a copy goes through: the lossy encodings media meet on their way to a reader.
REENCODINGS = {
    MediaType.IMAGE: Reencoding(
        "jpg", ("-frames:v", "1", "-q:v", "5"), "re-encoded as JPEG at about quality 75"
    ),
    MediaType.AUDIO: Reencoding(
        "mp3", ("-vn", "-c:a", "libmp3lame", "-b:a", "128k"), "re-encoded as MP3 at 128 kb/s"
    ),
    MediaType.VIDEO: Reencoding(
        "mp4",
        ("-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-c:a", "aac", "-b:a", "128k"),
        "re-encoded as H.264 MP4 (CRF 28, AAC 128 kb/s)",
    ),
}


class RobustnessState:
    PENDING = "PENDING"
    STABLE = "STABLE"
    UNSTABLE = "UNSTABLE"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class RobustnessSummary:
    state: str
    text: str
    copy: Media | None
    derivation: str

    @property
    def stable(self) -> bool | None:
        if self.state in (RobustnessState.STABLE, RobustnessState.UNSTABLE):
            return self.state == RobustnessState.STABLE
        return None


def _reencode(source: Path, target: Path, reencoding: Reencoding) -> None:
    command = [
        "ffmpeg", "-v", "error", "-nostdin", "-y", "-protocol_whitelist", "file",
        "-i", str(source), *reencoding.ffmpeg_options, str(target),
    ]  # fmt: skip
    completed = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        command, capture_output=True, timeout=settings.FFMPEG_TIMEOUT_SECONDS, check=False
    )
    if completed.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        tail = completed.stderr.decode(errors="replace")[-300:]
        raise RuntimeError(f"ffmpeg could not re-encode the file: {tail}")


def robustness_copy_make(*, media: Media) -> Media:
    """Re-encode `media`, ingest the copy as a linked media item and start its run."""
    # Imported here: ingest starts runs, and the run services import this app's models.
    from media_analysis.services.ingest import media_ingest

    reencoding = REENCODINGS[MediaType(media.media_type)]
    stem = Path(media.original_filename).stem or "upload"
    with (
        tempfile.TemporaryDirectory(prefix="robustness-") as workdir,
        stored_copy(media.file) as source,
    ):
        target = Path(workdir) / f"copy.{reencoding.extension}"
        _reencode(source, target, reencoding)
        latest = media.latest_run
        with target.open("rb") as handle:
            result = media_ingest(
                owner=media.owner,
                upload=File(handle),
                filename=f"{stem} (re-encoded).{reencoding.extension}",
                description=f"Robustness copy of {media.original_filename}",
                model_names=(latest.requested_models or None) if latest else None,
                derived_from=media,
                derivation=reencoding.description,
            )
    return result.media


def robustness_summary(*, media: Media) -> RobustnessSummary | None:
    """How the original's latest verdict compares with its re-encoded copy's; None when no check
    was asked for."""
    if not media.robustness_requested:
        return None
    copy = media.derived_copies.select_related("latest_run").order_by("-created_at").first()
    derivation = copy.derivation if copy else REENCODINGS[MediaType(media.media_type)].description
    if copy is None and media.prepared_at is None and media.status == RunStatus.FAILED:
        return RobustnessSummary(
            RobustnessState.UNAVAILABLE,
            "The file was refused, so no re-encoded copy was made.",
            None,
            derivation,
        )
    if copy is None:
        return RobustnessSummary(
            RobustnessState.PENDING, "The re-encoded copy is being made.", None, derivation
        )
    original_run, copy_run = media.latest_run, copy.latest_run
    if copy_run is not None and copy_run.status == RunStatus.FAILED:
        return RobustnessSummary(
            RobustnessState.UNAVAILABLE,
            "The re-encoded copy could not be analysed, so stability is unknown.",
            copy,
            derivation,
        )
    runs = (original_run, copy_run)
    if any(run is None or run.status in RunStatus.active() or not run.verdict for run in runs):
        return RobustnessSummary(
            RobustnessState.PENDING,
            "The re-encoded copy is still being analysed.",
            copy,
            derivation,
        )
    before, after = Verdict(original_run.verdict), Verdict(copy_run.verdict)
    if before == after:
        text = f"Stable: {derivation}, the media gets the same verdict ({after.label})."
        return RobustnessSummary(RobustnessState.STABLE, text, copy, derivation)
    text = (
        f"Unstable: {derivation}, the verdict changes from {before.label} to {after.label}. A "
        "verdict that a re-encode can change measures the encoding as much as the content: do "
        "not rely on it."
    )
    return RobustnessSummary(RobustnessState.UNSTABLE, text, copy, derivation)
