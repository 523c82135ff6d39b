"""A worker killed with SIGKILL while several runs are in flight loses none of them.

Three runs of three models each go to a real `celery worker` subprocess; one model is slow, so
the kill lands while analyses of every run are PROCESSING (their leases held, their messages
unacknowledged, the rest of the runs' messages still queued). A fresh worker is started without
touching the queues, so it takes the queued messages as a real replacement would, and the reaper
sweeps as beat would (re-sending the killed worker's analyses, whose messages sit unacknowledged
until the long broker visibility timeout): every run ends final with exactly one analysis row per
model, and nothing is left open.
"""

from __future__ import annotations

import os
import signal

import pytest

from media_analysis.choices import AnalysisStatus, RunStatus, Verdict
from media_analysis.models import DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from tests.fixtures.pipeline import FAST_PIPELINE_ENV, stored_media, wait_for
from tests.reliability.reliability_support import (
    assert_settled_once,
    reap_until_final,
    worker_env,
    worker_subprocess,
)

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_MODEL = "SIGLIP-LSTM-V4"
RUNS = 3


def test_sigkill_mid_analysis_then_a_new_worker_settles_every_run(
    fake_inference, worker_process, fast_pipeline, monkeypatch
):
    # The slow model must still be answering when the worker dies, not timing out client-side.
    monkeypatch.setitem(FAST_PIPELINE_ENV, "ML_READ_TIMEOUT_SECONDS", "60")
    fake_inference.model(SLOW_MODEL).delay = 60.0
    # Three slots: the slow analyses end up holding all of them, so the last run's other models
    # are still waiting in the queue when the worker dies.
    first = worker_process(concurrency=3, name="doomed")
    runs = [run_start(media=stored_media()) for _ in range(RUNS)]
    run_ids = [run.pk for run in runs]

    def slow_ones_in_flight() -> bool:
        return (
            len(fake_inference.analyze_requests(SLOW_MODEL)) == RUNS
            and DeepfakeAnalysis.objects.filter(
                run_id__in=run_ids, model_name=SLOW_MODEL, status=AnalysisStatus.PROCESSING
            ).count()
            == RUNS
        )

    wait_for(slow_ones_in_flight, timeout=60)
    os.killpg(first.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    # Nothing is final for the slow model: the worker died holding every one of them.
    assert not DeepfakeAnalysis.objects.filter(
        model_name=SLOW_MODEL, run_id__in=run_ids, status__in=AnalysisStatus.final()
    ).exists()
    assert DeepfakeAnalysis.objects.filter(
        run_id__in=run_ids, status=AnalysisStatus.PENDING
    ).exists()

    fake_inference.model(SLOW_MODEL).delay = 0.0
    # The sweeps below re-send what the dead worker held after 2 s, but give analyses still in
    # the queue time to be taken by the replacement, which may be slow to start on a busy machine:
    # reaped as fast, they would use up their re-sends and fail as timed out before it was up.
    fast_pipeline.ANALYSIS_QUEUED_TIMEOUT_SECONDS = 10
    with worker_subprocess(env=worker_env(fast_pipeline), concurrency=6, name="replacement"):
        done = reap_until_final(run_ids, timeout=90)

    assert_settled_once(run_ids, model_names=[m.name for m in fake_inference.models])
    # The replacement worker is healthy and the inference server is up: nothing had to fail.
    assert {run.status for run in done} == {RunStatus.ANALYZED}
    assert {run.verdict for run in done} == {Verdict.FAKE}
    for analysis in DeepfakeAnalysis.objects.filter(run_id__in=run_ids, model_name=SLOW_MODEL):
        # Once on the killed worker, once more after the reaper re-sent it.
        assert analysis.status == AnalysisStatus.COMPLETED
        assert analysis.attempts >= 2
        assert analysis.redispatches >= 1
