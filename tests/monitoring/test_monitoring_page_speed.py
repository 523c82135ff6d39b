"""The monitoring page reads the figures the beat health check keeps: it never asks the
inference server or broadcasts to the workers while the operator waits, says how old each
figure is, and loads figures checked now from its fragment endpoint."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from media_analysis.choices import AnalysisStatus
from monitoring.snapshot import monitoring_snapshot_cache_key, monitoring_snapshot_get
from monitoring.tasks import server_health_check_task
from tests.factories import DeepfakeAnalysisFactory
from tests.fakes.inference_server import Failure, FakeModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

URL = "/monitoring/"
FIGURES_URL = "/monitoring/figures/"
QUICK_INSPECT_SECONDS = 0.2
# An inspect broadcast with no worker online waits this long: a page that made one could not
# answer within FAST_PAGE_SECONDS.
SLOW_INSPECT_SECONDS = 3.0
FAST_PAGE_SECONDS = 1.5
STATS_TIMEOUT_SECONDS = 0.3


def stats_requests(fake) -> int:
    return sum(1 for request in list(fake.requests) if request.path == "/stats")


def age_snapshot(seconds: int) -> None:
    """Pretend the kept figures were checked `seconds` ago."""
    snapshot = monitoring_snapshot_get()
    past = timezone.now() - timedelta(seconds=seconds)
    cache.set(
        monitoring_snapshot_cache_key(),
        dataclasses.replace(snapshot, server_checked_at=past, queues_checked_at=past),
        timeout=None,
    )


@pytest.fixture
def checked(fake_inference, isolated_cache, settings):
    """The beat health check has run once; afterwards any inspect broadcast would be slow."""
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = QUICK_INSPECT_SECONDS
    server_health_check_task()
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = SLOW_INSPECT_SECONDS
    return fake_inference


def test_the_page_shows_the_kept_figures_without_asking_the_server_or_the_workers(
    staff_client, checked
):
    age_snapshot(42)
    before = stats_requests(checked)

    started = time.monotonic()
    response = staff_client.get(URL)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert stats_requests(checked) == before  # not one /stats during the page request
    assert elapsed < FAST_PAGE_SECONDS  # and no inspect broadcast, which waits 3 s
    html = response.content.decode()
    assert "SIGLIP-LSTM-V4</th>" in html  # the models of the beat check's /stats answer
    assert "1 of 8 GiB" in html
    assert 'data-age="42">42 s ago</time>' in html
    assert "Workers online" in html
    assert 'data-stale="true"' not in html
    assert 'data-figures-url="/monitoring/figures/"' in html
    assert "js/monitoring-figures.js" in html


def test_with_kept_analytics_the_page_runs_no_analytics_query(staff_client, checked):
    DeepfakeAnalysisFactory(model_name="LATE", status=AnalysisStatus.COMPLETED, processing_time=1)

    with CaptureQueriesContext(connection) as queries:
        html = staff_client.get(URL).content.decode()

    assert not [q for q in queries if "media_analysis_deepfakeanalysis" in q["sql"]]
    # The window the beat check computed, before that analysis: shown with its age.
    assert "LATE" not in html
    assert "Computed <time" in html


def test_a_server_that_timed_out_at_the_check_is_shown_down_at_once(
    staff_client, fake_inference, isolated_cache, settings
):
    fake_inference.stats_failure = Failure.TIMEOUT
    fake_inference.timeout_sleep = 5.0
    settings.ML_STATS_READ_TIMEOUT_SECONDS = STATS_TIMEOUT_SECONDS
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = QUICK_INSPECT_SECONDS
    server_health_check_task()
    # Were the page to ask now, it would wait for this timeout.
    settings.ML_STATS_READ_TIMEOUT_SECONDS = 5.0
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = SLOW_INSPECT_SECONDS
    before = stats_requests(fake_inference)

    started = time.monotonic()
    html = staff_client.get(URL).content.decode()

    assert time.monotonic() - started < FAST_PAGE_SECONDS
    assert stats_requests(fake_inference) == before
    assert 'monitor-status-unhealthy">Down</span>' in html
    assert "did not answer within 0.3 seconds" in html  # the check's own error
    assert "Unknown while the server cannot be asked." in html


def test_figures_older_than_two_checks_are_flagged_stale(staff_client, checked, settings):
    age_snapshot(2 * settings.HEALTH_CHECK_INTERVAL + 5)

    html = staff_client.get(URL).content.decode()

    assert 'data-stale="true"' in html
    assert "the periodic health check does not seem to run" in html


def test_the_figures_fragment_checks_now_and_keeps_the_result(staff_client, checked, settings):
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = QUICK_INSPECT_SECONDS
    settings.MONITORING_STATUS_CACHE_SECONDS = 0
    age_snapshot(300)
    checked.models.append(FakeModel("NEW-AUDIO-MODEL", audio=True))
    before = stats_requests(checked)

    response = staff_client.get(FIGURES_URL)

    assert response.status_code == 200
    assert stats_requests(checked) == before + 1
    fragment = response.content.decode()
    assert '<div id="monitor-server-figures"' in fragment
    assert '<div id="monitor-queue-figures"' in fragment
    assert "NEW-AUDIO-MODEL" in fragment and "Workers online" in fragment
    assert "<html" not in fragment  # a fragment, not a page
    # Kept: the next page load shows the new figures, fresh, without asking again.
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = SLOW_INSPECT_SECONDS
    html = staff_client.get(URL).content.decode()
    assert "NEW-AUDIO-MODEL" in html and "300 s ago" not in html
    assert stats_requests(checked) == before + 1


def test_the_figures_fragment_is_for_staff_only(user_client, isolated_cache):
    response = user_client.get(FIGURES_URL)
    assert response.status_code == 403

    anonymous = Client().get(FIGURES_URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=/monitoring/figures/")
