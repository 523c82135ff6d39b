"""GET server-status (the inference server asked now) and GET server-history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from drishtiksha.api.casing import camelize
from monitoring.models import HealthStatus, ServerHealth
from tests.fakes.inference_server import Failure

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

STATUS_URL = "/api/v1/monitoring/server-status"
HISTORY_URL = "/api/v1/monitoring/server-history"
STATS_TIMEOUT_SECONDS = 0.3


def stats_requests(fake) -> int:
    return sum(1 for request in fake.requests if request.path == "/stats")


def test_server_status_is_the_stats_camelcased_at_every_depth(
    staff_api, fake_inference, isolated_cache
):
    response = staff_api.get(STATUS_URL)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["serviceName"] == "Drishtiksha: Deepfake Detection"
    assert data["status"] == "running"
    assert data["systemInfo"]["ramUsagePercent"] == 12.5
    assert data["deviceInfo"]["memoryUsagePercent"] is None
    model = data["modelsInfo"][0]
    assert (model["name"], model["className"]) == (
        "SIGLIP-LSTM-V4",
        "SiglipLstmV4",
    )
    assert model["isVideo"] is True and model["modelPath"] == "models/siglip-lstm-v4.pth"
    assert data["configuration"]["activeModels"] == [
        "SIGLIP-LSTM-V4",
        "COLOR-CUES-LSTM-V1",
        "EFFICIENTNET-B7-V1",
    ]
    assert isinstance(data["responseTimeMs"], int) and data["responseTimeMs"] >= 0
    assert data["cachedAt"].endswith("Z")
    # The server's own snake_case names stay beside the camelCase ones (the legacy clients).
    assert all(data[camelize(key)] == data[key] for key in data if "_" in key)


def test_server_status_reuses_a_fresh_answer_and_asks_again_once_it_expires(
    staff_api, fake_inference, isolated_cache, settings
):
    first = staff_api.get(STATUS_URL).json()["data"]
    second = staff_api.get(STATUS_URL).json()["data"]

    assert stats_requests(fake_inference) == 1
    assert second["cachedAt"] == first["cachedAt"]

    settings.MONITORING_STATUS_CACHE_SECONDS = 0
    third = staff_api.get(STATUS_URL).json()["data"]

    assert stats_requests(fake_inference) == 2
    assert third["cachedAt"] > first["cachedAt"]


def test_server_status_is_503_when_the_server_refuses(staff_api, fake_inference, isolated_cache):
    fake_inference.stop()

    response = staff_api.get(STATUS_URL)

    assert response.status_code == 503
    assert response.json()["message"] == "The inference server could not be reached."


def test_server_status_is_503_when_the_server_answers_with_an_error(
    staff_api, fake_inference, isolated_cache
):
    fake_inference.stats_failure = Failure.ERROR_503

    response = staff_api.get(STATUS_URL)

    assert response.status_code == 503
    assert response.json()["message"] == "ModelManager is not available."


def test_server_status_is_504_when_the_server_does_not_answer_in_time(
    staff_api, fake_inference, isolated_cache, settings
):
    settings.ML_STATS_READ_TIMEOUT_SECONDS = STATS_TIMEOUT_SECONDS
    fake_inference.stats_failure = Failure.TIMEOUT
    fake_inference.timeout_sleep = 2.0

    response = staff_api.get(STATUS_URL)

    assert response.status_code == 504
    assert "did not answer within 0.3 seconds" in response.json()["message"]


def test_a_failure_is_not_cached(staff_api, fake_inference, isolated_cache):
    fake_inference.stats_failure = Failure.ERROR_500
    assert staff_api.get(STATUS_URL).status_code == 503

    fake_inference.stats_failure = Failure.NONE

    assert staff_api.get(STATUS_URL).status_code == 200


def _history(count: int) -> list[ServerHealth]:
    """`count` rows a minute apart, the last one newest."""
    now = timezone.now()
    rows = []
    for index in range(count):
        row = ServerHealth.objects.create(
            status=HealthStatus.HEALTHY if index % 2 else HealthStatus.UNHEALTHY,
            response_time_ms=index,
            stats_payload={"service_name": "x", "models_info": []},
        )
        ServerHealth.objects.filter(pk=row.pk).update(
            checked_at=now - timedelta(minutes=count - index)
        )
        rows.append(row)
    return rows


def test_server_history_is_newest_first_with_the_default_limit(staff_api, settings):
    settings.MONITORING_HISTORY_DEFAULT_LIMIT = 3
    rows = _history(5)

    response = staff_api.get(HISTORY_URL)

    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["id"] for item in data] == [rows[4].pk, rows[3].pk, rows[2].pk]
    assert data[0]["status"] == HealthStatus.UNHEALTHY
    assert data[0]["responseTimeMs"] == 4
    assert data[0]["statsPayload"] == {
        "serviceName": "x",
        "modelsInfo": [],
        "service_name": "x",
        "models_info": [],
    }
    assert set(data[0]) == {
        "id",
        "status",
        "responseTimeMs",
        "errorMessage",
        "checkedAt",
        "statsPayload",
    }


def test_server_history_honours_limit(staff_api):
    _history(4)

    data = staff_api.get(HISTORY_URL, {"limit": 2}).json()["data"]

    assert [item["responseTimeMs"] for item in data] == [3, 2]


@pytest.mark.parametrize("limit", ["0", "501", "-3", "ten", "2.5"])
def test_server_history_refuses_a_limit_outside_1_to_500(staff_api, limit):
    response = staff_api.get(HISTORY_URL, {"limit": limit})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


def test_server_history_accepts_the_bounds(staff_api):
    _history(2)

    assert staff_api.get(HISTORY_URL, {"limit": 1}).status_code == 200
    assert len(staff_api.get(HISTORY_URL, {"limit": 500}).json()["data"]) == 2
