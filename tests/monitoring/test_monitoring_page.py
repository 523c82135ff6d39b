"""The staff monitoring page: rendered server-side, with its charts' data embedded as JSON."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus, Verdict
from media_analysis.models import Media
from monitoring.models import HealthStatus, ServerHealth
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory
from tests.fakes.inference_server import FakeInferenceServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

URL = "/monitoring/"
ANALYTICS_API_URL = "/api/v1/monitoring/analytics"
HISTORY_API_URL = "/api/v1/monitoring/server-history"
REAP_URL = "/monitoring/check-stuck-runs/"
QUICK_INSPECT_SECONDS = 0.2


@pytest.fixture
def quick_inspect(settings):
    settings.MONITORING_INSPECT_TIMEOUT_SECONDS = QUICK_INSPECT_SECONDS


def chart_data(html: str) -> dict:
    match = re.search(
        r'<script id="monitoring-chart-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "the charts' JSON is missing"
    return json.loads(match.group(1))


def test_staff_see_server_queues_and_analytics_with_chart_data(
    staff_client, fake_inference, isolated_cache, quick_inspect
):
    ServerHealth.objects.create(status=HealthStatus.UNHEALTHY, response_time_ms=900)
    ServerHealth.objects.create(status=HealthStatus.HEALTHY, response_time_ms=42)
    DeepfakeAnalysisFactory(
        model_name="ALPHA", status=AnalysisStatus.COMPLETED, processing_time=2.5, confidence=0.8
    )

    response = staff_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Healthy" in html and "42 ms" in html
    # Loaded models with their media types and device, from /stats asked now.
    assert re.search(r"SIGLIP-LSTM-V4</th>\s*<td>yes</td>\s*<td>Video</td>\s*<td>cpu</td>", html)
    # A CPU server reports no GPU figures: RAM only.
    assert 'value="12.5"' in html and "GPU memory" not in html
    assert "1 of 8 GiB" in html
    assert "Workers online" in html and "No worker answered" in html
    assert "ALPHA" in html and "2.50 s" in html
    assert "Likely deepfake <strong>0</strong>" in html  # the verdicts, readable without the chart
    assert 'name="csrfmiddlewaretoken"' in html
    assert "chart.umd.min.js" in html

    data = chart_data(html)
    assert [point["status"] for point in data["history"]] == ["UNHEALTHY", "HEALTHY"]
    assert [point["responseTimeMs"] for point in data["history"]] == [900, 42]
    assert data["analytics"]["models"][0]["modelName"] == "ALPHA"
    assert len(data["analytics"]["uploadsPerDay"]) == 30


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_the_charts_describe_history_and_analytics_as_the_api_does(
    staff_client, staff_api, fake_inference, isolated_cache, quick_inspect, settings, time_zone
):
    settings.TIME_ZONE = time_zone
    ServerHealth.objects.create(status=HealthStatus.UNHEALTHY, response_time_ms=None)
    ServerHealth.objects.create(status=HealthStatus.HEALTHY, response_time_ms=42)
    run = AnalysisRunFactory(status=RunStatus.ANALYZED, verdict=Verdict.REAL)
    Media.objects.filter(pk=run.media_id).update(latest_run=run)
    for model_name, seconds in (("ALPHA", 2.5), ("BETA", 4.0)):
        DeepfakeAnalysisFactory(
            run=run,
            model_name=model_name,
            media_type=MediaType.VIDEO,
            status=AnalysisStatus.COMPLETED,
            processing_time=seconds,
            confidence=0.8,
        )
    DeepfakeAnalysisFactory(run=run, model_name="GAMMA", status=AnalysisStatus.FAILED)

    page = chart_data(staff_client.get(URL).content.decode())
    analytics = staff_api.get(ANALYTICS_API_URL).json()["data"]
    history = staff_api.get(HISTORY_API_URL).json()["data"]

    assert page["analytics"] == analytics
    assert page["history"] == [
        {key: point[key] for key in ("checkedAt", "status", "responseTimeMs")}
        for point in reversed(history)
    ]


def test_a_gpu_server_gets_a_gpu_gauge(
    staff_client, fake_inference, isolated_cache, quick_inspect, monkeypatch
):
    real_body = FakeInferenceServer.stats_body

    def with_gpu(self):
        body = real_body(self)
        body["device_info"].update(
            type="cuda",
            name="NVIDIA H200",
            total_memory=139.8,
            used_memory=6.1,
            memory_usage_percent=4.36,
        )
        return body

    monkeypatch.setattr(FakeInferenceServer, "stats_body", with_gpu)

    html = staff_client.get(URL).content.decode()

    assert "GPU memory (NVIDIA H200)" in html
    assert "6.1 of 139.8 GiB" in html


def test_a_cpu_server_shows_its_cores_and_ram_without_a_made_up_cpu_gauge(
    staff_client, fake_inference, isolated_cache, quick_inspect
):
    html = staff_client.get(URL).content.decode()

    resources = html[html.index("<h3>Resources</h3>") : html.index("<h3>Models</h3>")]
    # The contract's /stats has a core count but no CPU load: cores in words, RAM as a gauge.
    assert "<strong>CPU</strong> · 2 cores; the server reports no CPU load figure" in resources
    assert resources.count("<meter") == 1
    assert re.search(r'<label for="gauge-1">RAM</label>', resources)


def test_without_any_resource_figures_there_is_no_resources_section(
    staff_client, fake_inference, isolated_cache, quick_inspect, monkeypatch
):
    real_body = FakeInferenceServer.stats_body

    def without_system(self):
        body = real_body(self)
        body["system_info"] = {"cpu_count": None, "ram_usage_percent": "n/a"}
        return body

    monkeypatch.setattr(FakeInferenceServer, "stats_body", without_system)

    html = staff_client.get(URL).content.decode()

    assert "<h3>Resources</h3>" not in html
    assert "<h3>Models</h3>" in html


def test_the_page_still_renders_when_the_server_and_broker_are_down(
    staff_client, fake_inference, isolated_cache, settings
):
    fake_inference.stop()
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = staff_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "The inference server could not be reached." in html
    assert "The message broker cannot be reached." in html
    assert chart_data(html)["history"] == []


def test_an_invalid_days_falls_back_to_the_default_with_a_note(
    staff_client, fake_inference, isolated_cache, quick_inspect
):
    html = staff_client.get(URL, {"days": "1000"}).content.decode()

    assert "less than or equal to 365" in html
    assert len(chart_data(html)["analytics"]["uploadsPerDay"]) == 30


@pytest.mark.parametrize("days", ["0", "week", "1000"])
def test_the_page_refuses_a_days_with_the_apis_words(
    staff_client, staff_api, fake_inference, isolated_cache, quick_inspect, days
):
    refusal = staff_api.get(ANALYTICS_API_URL, {"days": days}).json()["message"]

    html = staff_client.get(URL, {"days": days}).content.decode()

    assert refusal in html
    assert len(chart_data(html)["analytics"]["uploadsPerDay"]) == 30


def test_regular_users_get_the_403_page(user_client):
    response = user_client.get(URL)

    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    assert user_client.post(REAP_URL).status_code == 403


def test_anonymous_visitors_are_sent_to_login():
    response = Client().get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/monitoring/")


def test_check_stuck_runs_button_runs_the_reaper(
    staff_user, fake_inference, isolated_cache, quick_inspect
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    run = AnalysisRunFactory(status=RunStatus.PROCESSING)
    DeepfakeAnalysisFactory(run=run, status=AnalysisStatus.FAILED)

    assert client.post(REAP_URL).status_code == 403  # no CSRF token

    client.get(URL)  # the page's form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(REAP_URL, {"csrfmiddlewaretoken": token}, follow=True)

    assert response.redirect_chain == [("/monitoring/", 302)]
    assert "Stuck runs checked: 0 analyses sent again, 0 analyses timed out, 1 runs finalized" in (
        response.content.decode()
    )
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
