"""The inference server is down (connection refused) when runs start and comes back later.

The production story is "the inference server is down for the first minute": uploads are
accepted, runs wait QUEUED while their dispatch keeps asking `/stats` with backoff, and they are
analysed once the server answers. Here that minute is scaled down to OUTAGE_SECONDS (a few
seconds) and the discovery deadline, ANALYSIS_DISCOVERY_TIMEOUT_SECONDS, to 30 s (fast_pipeline);
the backoffs are the fast pipeline's (0.1–0.3 s). The outage is real: nothing listens on the
server's port, so every call is refused at the TCP level.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from media_analysis.choices import RunStatus, Verdict
from media_analysis.discovery import stats_cache_key
from media_analysis.models import AnalysisRun, DeepfakeAnalysis
from media_analysis.pipeline.start import run_start
from tests.fixtures.pipeline import stored_media, wait_for
from tests.reliability.reliability_support import assert_settled_once, reap_until_final

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE_SECONDS = 3.0
RUNS = 3


def test_runs_started_while_the_inference_server_is_down_complete_once_it_is_back(
    fake_inference, pipeline_worker, settings
):
    # The reaper sweeps below: a worker's lease (1 s under fast_pipeline) that lapsed during a
    # stall of the loaded machine would let it re-send an analysis being worked on.
    settings.ANALYSIS_HEARTBEAT_SECONDS = 30.0
    fake_inference.stop()
    cache.delete(stats_cache_key())
    down_since = time.monotonic()

    runs = [run_start(media=stored_media()) for _ in range(RUNS)]
    run_ids = [run.pk for run in runs]

    # Accepted and waiting: no analyses can be created before the server says which models exist.
    assert {run.status for run in runs} == {RunStatus.QUEUED}
    assert not DeepfakeAnalysis.objects.filter(run_id__in=run_ids).exists()
    # The dispatch keeps retrying, visibly (it refreshes the run's updated_at), without failing.
    # On a loaded machine the first retries may take longer than OUTAGE_SECONDS to come round;
    # the outage then simply lasts until they have (well within the 30 s discovery deadline).
    first_seen = {run.pk: run.updated_at for run in runs}
    wait_for(
        lambda: all(
            run.updated_at > first_seen[run.pk]
            for run in AnalysisRun.objects.filter(pk__in=run_ids)
        ),
        timeout=15,
    )
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))  # the outage itself
    assert set(AnalysisRun.objects.filter(pk__in=run_ids).values_list("status", flat=True)) == {
        RunStatus.QUEUED
    }
    assert fake_inference.analyze_requests() == []

    fake_inference.start()
    done = reap_until_final(run_ids, timeout=30)

    assert_settled_once(run_ids, model_names=[m.name for m in fake_inference.models])
    assert {run.status for run in done} == {RunStatus.ANALYZED}
    assert {run.verdict for run in done} == {Verdict.FAKE}
    assert {run.error_message for run in done} == {""}
    # One /analyze call per (run, model): nothing was sent twice.
    assert len(fake_inference.analyze_requests()) == RUNS * len(fake_inference.models)
