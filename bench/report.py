"""Time the PDF run report for a large run: 10 video models x 300 frame scores each.

Runs on a throwaway SQLite database in a temporary directory, so it needs no server:

    .venv/bin/python bench/report.py [--repeat 7]

Prints the median render time (the run is loaded once, as the endpoint would, then rendered
repeatedly), the PDF size, and whether the target is met.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 2.0
MODEL_COUNT = 10
FRAMES = 300


def _setup_django(directory: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = f"sqlite:///{directory / 'bench.sqlite3'}"
    os.environ["DRISHTIKSHA_VAR_DIR"] = str(directory)
    os.environ["MEDIA_ROOT"] = str(directory / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drishtiksha.settings.development")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _make_run():
    from accounts.models import User
    from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
    from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
    from tests.factories import video_result_payload

    owner = User.objects.create_user("bench@example.com")
    media = Media.objects.create(
        owner=owner,
        original_filename="interview-final-cut.mp4",
        file="videos/bench.mp4",
        mimetype="video/mp4",
        size=48_213_771,
        media_type=MediaType.VIDEO,
        has_audio=True,
        sha256="0" * 64,
        metadata={
            "format": {"formatName": "mov,mp4", "duration": 312.48, "bitRate": 1_234_000},
            "video": {"codec": "h264", "width": 1920, "height": 1080, "fps": 29.97},
            "audio": {"codec": "aac", "sampleRate": 48000, "channels": 2},
        },
    )
    run = AnalysisRun.objects.create(
        media=media,
        run_number=1,
        status=RunStatus.ANALYZED,
        verdict=Verdict.FAKE,
        fake_score=0.71,
        agreement=0.8,
    )
    for number in range(MODEL_COUNT):
        prediction = "FAKE" if number % 5 else "REAL"
        payload = video_result_payload(
            frames=FRAMES, phase=number / 3, prediction=prediction, processing_time=5.0 + number
        )
        DeepfakeAnalysis.objects.create(
            run=run,
            model_name=f"VIDEO-MODEL-{number:02d}",
            model_used=f"VIDEO-MODEL-{number:02d}",
            status=AnalysisStatus.COMPLETED,
            prediction=prediction,
            confidence=payload["confidence"],
            processing_time=payload["processing_time"],
            media_type=MediaType.VIDEO,
            result_payload=payload,
            attempts=1,
        )
    return owner, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed renders (default 7)")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="drishtiksha-bench-") as directory:
        _setup_django(Path(directory))
        from media_analysis.reports.pdf import run_report_pdf
        from media_analysis.reports.selectors import run_get_for_report

        owner, run = _make_run()
        run = run_get_for_report(user=owner, run_id=run.id)
        pdf = run_report_pdf(run=run)  # warm-up: imports, font metrics, first-use caches
        timings = []
        for _ in range(arguments.repeat):
            started = time.perf_counter()
            pdf = run_report_pdf(run=run)
            timings.append(time.perf_counter() - started)

    median = statistics.median(timings)
    print(f"run: {MODEL_COUNT} models x {FRAMES} frame scores")
    print(
        f"render: median {median:.3f} s over {len(timings)} renders "
        f"(min {min(timings):.3f} s, max {max(timings):.3f} s)"
    )
    print(f"pdf size: {len(pdf):,} bytes")
    verdict = "met" if median < TARGET_SECONDS else "NOT met"
    print(f"target < {TARGET_SECONDS:g} s: {verdict}")


if __name__ == "__main__":
    main()
