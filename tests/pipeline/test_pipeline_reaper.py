"""Runs always finish: lost workers, lost messages and lost chord callbacks, and the finalizer's
idempotence."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, Prediction, RunStatus, Verdict
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.finish import run_finalize
from media_analysis.pipeline.reaper import ReapResult, runs_reap
from media_analysis.pipeline.start import run_start
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory
from tests.fixtures.pipeline import FAST_PIPELINE_ENV, running_worker, stored_media, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Past both the stuck and the queued timeouts, whatever the settings.
LATER = timedelta(hours=2)


def _reap_until_final(run: AnalysisRun) -> AnalysisRun:
    """Sweep like beat would (only faster) until the run is final."""

    def swept() -> AnalysisRun | None:
        runs_reap()
        fresh = AnalysisRun.objects.get(pk=run.pk)
        return fresh if fresh.status in RunStatus.final() else None

    return wait_for(swept, timeout=30, interval=0.5)


def _open_run(**analyses_fields: dict) -> AnalysisRun:
    """A PROCESSING run (the media's latest) with one analysis per keyword (model name)."""
    run = AnalysisRunFactory(media=stored_media(), run_number=1, status=RunStatus.PROCESSING)
    run.media.latest_run = run
    run.media.status = RunStatus.PROCESSING
    run.media.save(update_fields=["latest_run", "status"])
    for model_name, fields in analyses_fields.items():
        DeepfakeAnalysisFactory(run=run, model_name=model_name, **fields)
    return run


def test_a_worker_killed_mid_analysis_does_not_lose_the_run(
    fake_inference, worker_process, settings, monkeypatch
):
    # The doomed worker's calls must still be waiting for their answers when it dies, however
    # long it takes to see all three arrive, not timing out and being retried client-side.
    monkeypatch.setitem(FAST_PIPELINE_ENV, "ML_READ_TIMEOUT_SECONDS", "60")
    # One re-send per analysis is the only legitimate outcome: a re-sent analysis is not re-sent
    # again just because the replacement worker took a while to pick it up (a PENDING one waits
    # for the queued timeout), nor while the replacement works on it (its lease outlives any
    # stall; the killed worker's leases still lapse after their own 1 s).
    settings.ANALYSIS_QUEUED_TIMEOUT_SECONDS = 3600
    settings.ANALYSIS_HEARTBEAT_SECONDS = 30.0
    for model in fake_inference.models:
        model.delay = 30.0
    worker = worker_process(concurrency=3)
    run = run_start(media=stored_media())
    wait_for(lambda: len(fake_inference.analyze_requests()) == 3, timeout=60)
    assert set(run.analyses.values_list("status", flat=True)) == {AnalysisStatus.PROCESSING}

    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    for model in fake_inference.models:
        model.delay = 0.0

    with running_worker():
        done = _reap_until_final(run)

    assert done.status == RunStatus.ANALYZED
    assert done.verdict == Verdict.FAKE
    analyses = list(DeepfakeAnalysis.objects.filter(run=run))
    assert sorted(a.model_name for a in analyses) == sorted(m.name for m in fake_inference.models)
    for analysis in analyses:
        assert analysis.status == AnalysisStatus.COMPLETED
        assert (analysis.attempts, analysis.redispatches) == (2, 1)
    for model in fake_inference.models:
        assert len(fake_inference.analyze_requests(model.name)) == 2


def test_the_reaper_never_touches_an_analysis_a_live_worker_holds(
    fake_inference, pipeline_worker, settings
):
    # The live worker's lease must not lapse during a stall of the loaded machine (it lives 1 s
    # under fast_pipeline), nor its call time out before the slow answer.
    settings.ANALYSIS_HEARTBEAT_SECONDS = 30.0
    settings.ML_READ_TIMEOUT_SECONDS = 30
    fake_inference.model("SIGLIP-LSTM-V4").delay = 1.5
    run = run_start(media=stored_media(), model_names=["SIGLIP-LSTM-V4"])
    wait_for(lambda: fake_inference.analyze_requests())

    # Seen from two hours later everything looks stale: only the lease tells a live worker.
    result = runs_reap(now=timezone.now() + LATER)

    assert result == ReapResult()
    analysis = run.analyses.get()
    assert (analysis.status, analysis.redispatches) == (AnalysisStatus.PROCESSING, 0)
    done = wait_for(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=RunStatus.final()).first()
    )
    assert done.status == RunStatus.ANALYZED
    assert len(fake_inference.analyze_requests()) == 1


def test_lost_messages_are_sent_again_and_the_run_finishes_without_its_chord(fake_inference):
    run = run_start(media=stored_media())
    analysis_ids = sorted(str(pk) for pk in run.analyses.values_list("pk", flat=True))

    # Starting the worker purges the queues: the chord's messages are lost.
    with running_worker():
        result = runs_reap(now=timezone.now() + LATER)
        done = wait_for(
            lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=RunStatus.final()).first()
        )

    assert sorted(result.redispatched) == analysis_ids
    assert done.status == RunStatus.ANALYZED
    for analysis in DeepfakeAnalysis.objects.filter(run=run):
        assert (analysis.status, analysis.attempts, analysis.redispatches) == (
            AnalysisStatus.COMPLETED,
            1,
            1,
        )
    assert len(fake_inference.analyze_requests()) == 3


def test_a_run_whose_dispatch_was_lost_is_dispatched_again(fake_inference):
    fake_inference.stop()
    run = run_start(media=stored_media())
    fake_inference.start()

    with running_worker():
        result = runs_reap(now=timezone.now() + LATER)
        done = wait_for(
            lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=RunStatus.final()).first()
        )

    assert result.dispatch_resent == [str(run.pk)]
    assert done.status == RunStatus.ANALYZED


def test_analyses_out_of_second_chances_time_out_and_their_run_is_settled(settings):
    settings.ANALYSIS_REAPER_MAX_REDISPATCHES = 2
    settings.ANALYSIS_MAX_RETRIES = 3
    run = _open_run(
        **{
            "DONE-V1": {
                "status": AnalysisStatus.COMPLETED,
                "prediction": Prediction.REAL,
                "confidence": 0.8,
            },
            "RESENT-TWICE-V1": {"status": AnalysisStatus.PENDING, "redispatches": 2},
            "TRIED-FOUR-TIMES-V1": {"status": AnalysisStatus.PROCESSING, "attempts": 4},
        }
    )

    result = runs_reap(now=timezone.now() + LATER)

    analyses = {a.model_name: a for a in DeepfakeAnalysis.objects.filter(run=run)}
    assert sorted(result.timed_out) == sorted(
        str(analyses[name].pk) for name in ("RESENT-TWICE-V1", "TRIED-FOUR-TIMES-V1")
    )
    assert result.redispatched == []
    for name in ("RESENT-TWICE-V1", "TRIED-FOUR-TIMES-V1"):
        assert analyses[name].status == AnalysisStatus.FAILED
        assert analyses[name].error_message.startswith("Timed out: no progress for")
        assert analyses[name].error_details["kind"] == "timeout"
    assert result.finalized_runs == [str(run.pk)]
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIALLY_ANALYZED
    assert (run.verdict, run.fake_score) == (Verdict.REAL, pytest.approx(0.2))
    run.media.refresh_from_db()
    assert run.media.status == RunStatus.PARTIALLY_ANALYZED
    assert runs_reap(now=timezone.now() + LATER) == ReapResult()


def test_a_run_whose_chord_callback_was_lost_is_finalized_by_the_reaper_once():
    run = _open_run(
        **{
            "A-V1": {
                "status": AnalysisStatus.COMPLETED,
                "prediction": Prediction.FAKE,
                "confidence": 0.9,
            },
            "B-V1": {
                "status": AnalysisStatus.COMPLETED,
                "prediction": Prediction.FAKE,
                "confidence": 0.7,
            },
        }
    )

    first = runs_reap()
    run.refresh_from_db()
    second = runs_reap()

    assert first.finalized_runs == [str(run.pk)]
    assert (run.status, run.verdict, run.agreement) == (RunStatus.ANALYZED, Verdict.FAKE, 1.0)
    assert second == ReapResult()


def test_finalize_waits_for_open_analyses_and_then_settles_exactly_once():
    run = _open_run(
        **{
            "A-V1": {
                "status": AnalysisStatus.COMPLETED,
                "prediction": Prediction.FAKE,
                "confidence": 0.6,
            },
            "B-V1": {"status": AnalysisStatus.PROCESSING},
        }
    )

    waiting = run_finalize(run_id=run.pk)

    assert (waiting.status, waiting.finished_at, waiting.verdict) == (
        RunStatus.PROCESSING,
        None,
        None,
    )
    DeepfakeAnalysis.objects.filter(run=run, model_name="B-V1").update(
        status=AnalysisStatus.FAILED, error_message="boom"
    )
    settled = run_finalize(run_id=run.pk)
    again = run_finalize(run_id=run.pk)

    assert settled.status == RunStatus.PARTIALLY_ANALYZED
    assert settled.error_message == "1 of 2 models failed. B-V1: boom"
    assert (again.status, again.finished_at, again.updated_at) == (
        settled.status,
        settled.finished_at,
        settled.updated_at,
    )
