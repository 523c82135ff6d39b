"""The existing React app and browser extension, unchanged, against this backend.

Each call of `shared/legacy-clients.md` is made as those clients make it. The cross-origin part
(CORS, the `authToken` cookie from the app's origin, CSRF refusals) runs against a real uvicorn
started with `CORS_ALLOWED_ORIGINS` in its environment, as a deployment configures it; the response
shapes are read through the test client over PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from media_analysis.choices import AnalysisStatus, Prediction, RunStatus, Verdict
from media_analysis.models import Media
from monitoring.models import HealthStatus, ServerHealth
from tests.factories import (
    DEFAULT_PASSWORD,
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    UserFactory,
    video_result_payload,
)
from tests.fixtures.pipeline import _purge_pipeline_queues, _test_database_url, stored_media
from tests.fixtures.servers import uvicorn_serving

SPA_ORIGIN = "http://localhost:5173"
EXTENSION_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
FOREIGN_ORIGIN = "https://evil.example"
NEW_PASSWORD = "a-brand-new-passphrase-77"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42 not really a video"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _media_with_runs(owner, *, runs: int = 2) -> Media:
    """A media item with `runs` finished runs of two analyses each; the newest is the latest."""
    media = stored_media(owner=owner, content=VIDEO_BYTES)
    for number in range(1, runs + 1):
        run = AnalysisRunFactory(
            media=media,
            run_number=number,
            status=RunStatus.ANALYZED,
            verdict=Verdict.FAKE,
            fake_score=0.7,
            agreement=1.0,
        )
        for name in ("MODEL-A", "MODEL-B"):
            DeepfakeAnalysisFactory(
                run=run,
                model_name=name,
                status=AnalysisStatus.COMPLETED,
                prediction=Prediction.FAKE,
                confidence=0.7,
                processing_time=2.5,
                media_type="video",
                result_payload=video_result_payload(frames=10, processing_time=2.5),
            )
    media.latest_run = run
    media.status = run.status
    media.save(update_fields=["latest_run", "status"])
    return media


# --- Cross-origin: a real server configured as a deployment would be -----------------------------


@pytest.fixture
def live_api(transactional_db, fake_inference) -> Iterator[str]:
    """uvicorn on the test database with the app and the extension as allowed origins.

    Its own cache prefix gives it fresh signup and login throttle counters.
    """
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DATABASE_URL": _test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": django_settings.REDIS_URL,
        "REDIS_KEY_PREFIX": f"test-legacy-{uuid.uuid4().hex}",
        "ML_SERVER_URL": fake_inference.url,
        "ML_SERVER_API_KEY": fake_inference.api_key,
        "CORS_ALLOWED_ORIGINS": f"{SPA_ORIGIN}, {EXTENSION_ORIGIN}",
    }
    env.pop("DJANGO_CSRF_TRUSTED_ORIGINS", None)
    with uvicorn_serving(env=env, port=_free_port()) as url:
        yield url
    _purge_pipeline_queues()


def _signup(base: str, email: str, *, origin: str | None = SPA_ORIGIN) -> requests.Response:
    headers = {"Origin": origin} if origin else {}
    return requests.post(
        f"{base}/api/v1/auth/signup",
        json={"email": email, "password": DEFAULT_PASSWORD, "firstName": "Ada", "lastName": "L"},
        headers=headers,
        timeout=10,
    )


def _preflight(base: str, path: str, *, origin: str, method: str) -> requests.Response:
    return requests.options(
        f"{base}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )


def test_preflights_allow_the_app_with_credentials_and_nobody_else(live_api):
    allowed = _preflight(live_api, "/api/v1/auth/login", origin=SPA_ORIGIN, method="POST")
    foreign = _preflight(live_api, "/api/v1/auth/login", origin=FOREIGN_ORIGIN, method="POST")
    extension = _preflight(live_api, "/api/v1/media", origin=EXTENSION_ORIGIN, method="POST")

    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert extension.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "Access-Control-Allow-Credentials" not in foreign.headers


def test_the_app_logs_in_and_works_with_the_cookie_from_its_own_origin(live_api):
    browser = requests.Session()  # keeps the authToken cookie, as the app's withCredentials does
    app = {"Origin": SPA_ORIGIN}

    signup = _signup(live_api, "spa@example.com")
    login = browser.post(
        f"{live_api}/api/v1/auth/login",
        json={"email": "spa@example.com", "password": DEFAULT_PASSWORD},
        headers=app,
        timeout=10,
    )

    assert signup.status_code == 201
    assert signup.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert set(signup.json()["data"]) >= {"token", "user"}
    assert login.status_code == 200
    assert login.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert login.headers["Access-Control-Allow-Credentials"] == "true"
    data = login.json()["data"]
    assert data["user"]["email"] == "spa@example.com" and data["token"]
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith("authToken=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert browser.cookies["authToken"] == data["token"]

    # A cookie-authenticated POST: accepted from the app, refused from any other origin.
    accepted = browser.post(f"{live_api}/api/v1/auth/ws-ticket", json={}, headers=app, timeout=10)
    refused = browser.post(
        f"{live_api}/api/v1/auth/ws-ticket", json={}, headers={"Origin": FOREIGN_ORIGIN}, timeout=10
    )
    no_origin = browser.post(f"{live_api}/api/v1/auth/ws-ticket", json={}, timeout=10)

    assert accepted.status_code == 201, accepted.text
    assert accepted.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert refused.status_code == 403
    body = refused.json()
    assert (body["statusCode"], body["success"]) == (403, False)
    assert body["message"].startswith("CSRF Failed")
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert no_origin.status_code == 403

    # The rest of the app's calls, on the cookie alone.
    profile = browser.put(
        f"{live_api}/api/v1/auth/profile",
        json={"firstName": "Grace", "lastName": "Hopper"},
        headers=app,
        timeout=10,
    )
    listed = browser.get(f"{live_api}/api/v1/media", headers=app, timeout=10)

    assert profile.status_code == 200 and profile.json()["data"]["firstName"] == "Grace"
    assert listed.status_code == 200 and listed.json()["data"] == []
    assert listed.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert "X-Total-Count" in listed.headers["Access-Control-Expose-Headers"]

    # The password change revokes every earlier token; the answer's token and cookie keep the app
    # logged in.
    old_token = data["token"]
    changed = browser.put(
        f"{live_api}/api/v1/auth/profile/password",
        json={
            "currentPassword": DEFAULT_PASSWORD,
            "newPassword": NEW_PASSWORD,
            "confirmPassword": NEW_PASSWORD,
        },
        headers=app,
        timeout=10,
    )

    assert changed.status_code == 200, changed.text
    fresh = changed.json()["data"]["token"]
    assert fresh != old_token and browser.cookies["authToken"] == fresh
    old_bearer = requests.get(
        f"{live_api}/api/v1/auth/profile",
        headers={"Authorization": f"Bearer {old_token}"},
        timeout=10,
    )
    new_bearer = requests.get(
        f"{live_api}/api/v1/auth/profile", headers={"Authorization": f"Bearer {fresh}"}, timeout=10
    )
    assert old_bearer.status_code == 401
    assert new_bearer.status_code == 200
    assert browser.get(f"{live_api}/api/v1/auth/profile", headers=app, timeout=10).ok

    logout = browser.post(f"{live_api}/api/v1/auth/logout", json={}, headers=app, timeout=10)

    assert logout.status_code == 200 and logout.json()["success"] is True
    assert logout.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert "authToken" not in browser.cookies


def test_the_extension_uploads_with_its_bearer_token(live_api, media_file):
    token = _signup(live_api, "ext@example.com", origin=None).json()["data"]["token"]
    clip = media_file("clip.mp4")

    def upload(origin: str) -> requests.Response:
        with clip.open("rb") as handle:
            return requests.post(
                f"{live_api}/api/v1/media",
                files={"media": ("clip.mp4", handle, "video/mp4")},
                data={"description": "from the extension"},
                headers={"Authorization": f"Bearer {token}", "Origin": origin},
                timeout=30,
            )

    listed = upload(EXTENSION_ORIGIN)
    unlisted = upload("chrome-extension://someotherextensionid")

    assert listed.status_code == 202, listed.text
    data = listed.json()["data"]
    assert data["filename"] == "clip.mp4" and uuid.UUID(data["id"])
    assert listed.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert listed.headers["Access-Control-Allow-Credentials"] == "true"
    # A bearer token needs no CSRF proof, but a browser lets only a listed origin read the answer.
    assert unlisted.status_code == 202
    assert "Access-Control-Allow-Origin" not in unlisted.headers


# --- Shapes -------------------------------------------------------------------------------------


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def owner_token(owner, api_login) -> str:
    return api_login(owner)["token"]


def test_media_detail_carries_analysis_runs_newest_first_with_verbatim_payloads(owner, owner_token):
    media = _media_with_runs(owner, runs=2)

    response = _bearer(owner_token).get(f"/api/v1/media/{media.pk}")

    assert response.status_code == 200
    data = response.json()["data"]
    runs = data["analysisRuns"]
    assert [run["runNumber"] for run in runs] == [2, 1]
    assert all({"id", "status", "runNumber", "analyses"} <= set(run) for run in runs)
    assert runs[0]["status"] == RunStatus.ANALYZED
    analysis = runs[0]["analyses"][0]
    assert {"modelName", "prediction", "confidence", "status"} <= set(analysis)
    payload = analysis["resultPayload"]
    assert payload["media_type"] == "video" and payload["processing_time"] == 2.5
    assert len(payload["frame_predictions"]) == 10
    assert payload["frame_predictions"][0].keys() == {"index", "score", "prediction"}
    # The existing keys stay.
    assert [run["runNumber"] for run in data["runs"]] == [2, 1]


def test_media_url_is_absolute_and_plays_with_the_cookie(owner, owner_token):
    media = _media_with_runs(owner, runs=1)

    url = _bearer(owner_token).get(f"/api/v1/media/{media.pk}").json()["data"]["url"]
    video = APIClient()
    video.cookies["authToken"] = owner_token  # what a <video src> request carries
    played = video.get(url, HTTP_RANGE="bytes=0-3")

    assert url == f"http://testserver/api/v1/media/{media.pk}/file"
    assert played.status_code == 206
    assert b"".join(played.streaming_content) == VIDEO_BYTES[:4]


def test_media_list_without_paging_is_an_array_with_analysis_runs(owner, owner_token):
    older = _media_with_runs(owner, runs=1)
    newer = _media_with_runs(owner, runs=3)
    _media_with_runs(UserFactory(), runs=1)

    response = _bearer(owner_token).get("/api/v1/media")

    assert response.status_code == 200
    data = response.json()["data"]
    assert isinstance(data, list)
    assert [item["id"] for item in data] == [str(newer.pk), str(older.pk)]
    assert [run["runNumber"] for run in data[0]["analysisRuns"]] == [3, 2, 1]
    first_run = data[0]["analysisRuns"][0]
    assert first_run["status"] == RunStatus.ANALYZED
    assert [a["modelName"] for a in first_run["analyses"]] == ["MODEL-A", "MODEL-B"]
    assert data[0]["latestRun"]["runNumber"] == 3
    assert response["X-Total-Count"] == "2" and response["X-List-Truncated"] == "false"


def test_media_list_with_a_paging_parameter_keeps_the_paged_shape(owner, owner_token):
    for _ in range(3):
        _media_with_runs(owner, runs=1)
    client = _bearer(owner_token)

    by_page = client.get("/api/v1/media?page=1").json()["data"]
    by_size = client.get("/api/v1/media?pageSize=2").json()["data"]

    assert set(by_page) == {"results", "count", "page", "pageSize", "totalPages"}
    assert by_page["count"] == 3 and len(by_page["results"]) == 3
    assert (by_size["pageSize"], by_size["totalPages"], len(by_size["results"])) == (2, 2, 2)
    assert by_size["results"][0]["analysisRuns"][0]["runNumber"] == 1


def test_an_unpaged_list_is_capped_and_says_so(owner, owner_token, settings):
    settings.MEDIA_LIST_UNPAGED_LIMIT = 2
    made = [_media_with_runs(owner, runs=1) for _ in range(3)]

    response = _bearer(owner_token).get("/api/v1/media")

    body = response.json()
    assert [item["id"] for item in body["data"]] == [str(m.pk) for m in reversed(made)][:2]
    assert response["X-Total-Count"] == "3" and response["X-List-Truncated"] == "true"
    assert body["message"] == (
        "Media retrieved: the first 2 of 3; ask with page and pageSize for the rest."
    )


def test_an_unpaged_list_costs_the_same_queries_for_one_or_ten_items(owner, owner_token):
    client = _bearer(owner_token)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/media")
        assert response.status_code == 200
        return len(captured), len(response.json()["data"])

    _media_with_runs(owner, runs=3)
    one, one_count = queries()
    for _ in range(9):
        _media_with_runs(owner, runs=3)
    ten, ten_count = queries()

    assert (one_count, ten_count) == (1, 10)
    assert one == ten


def test_monitoring_answers_carry_the_keys_the_monitoring_screen_reads(
    staff_api, fake_inference, isolated_cache
):
    ServerHealth.objects.create(
        status=HealthStatus.HEALTHY,
        response_time_ms=42,
        stats_payload={"models_info": [], "uptime_seconds": 3.0},
    )

    status = staff_api.get("/api/v1/monitoring/server-status").json()["data"]
    history = staff_api.get("/api/v1/monitoring/server-history?limit=50").json()["data"]
    queues = staff_api.get("/api/v1/monitoring/queue-status").json()["data"]

    assert status["models_info"][0]["name"] == "SIGLIP-LSTM-V4"
    assert status["uptime_seconds"] == 12.5
    assert "memory_usage_percent" in status["device_info"]
    assert isinstance(status["responseTimeMs"], int)
    # The camelCase keys stay.
    assert status["modelsInfo"] == status["models_info"]
    item = history[0]
    assert {"statsPayload", "responseTimeMs", "checkedAt", "status"} <= set(item)
    assert item["statsPayload"]["uptime_seconds"] == 3.0 and item["responseTimeMs"] == 42
    assert item["status"] == HealthStatus.HEALTHY
    assert {key: queues[key] for key in ("pending", "active", "completed", "failed")} == {
        "pending": queues["pendingJobs"],
        "active": queues["activeJobs"],
        "completed": queues["completedJobs"],
        "failed": queues["failedJobs"],
    }


def test_password_change_with_a_confirmation_keeps_the_app_logged_in(owner, owner_token):
    client = _bearer(owner_token)

    mismatch = client.put(
        "/api/v1/auth/profile/password",
        {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": "x"},
    )
    changed = client.put(
        "/api/v1/auth/profile/password",
        {
            "currentPassword": DEFAULT_PASSWORD,
            "newPassword": NEW_PASSWORD,
            "confirmPassword": NEW_PASSWORD,
        },
    )

    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["field"] == "confirmPassword"
    assert changed.status_code == 200
    fresh = changed.json()["data"]["token"]
    assert changed.cookies["authToken"].value == fresh
    assert _bearer(owner_token).get("/api/v1/auth/profile").status_code == 401
    assert _bearer(fresh).get("/api/v1/auth/profile").json()["data"]["email"] == owner.email
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_the_remaining_calls_answer_as_the_app_expects(
    owner, owner_token, fake_inference, isolated_cache
):
    media = _media_with_runs(owner, runs=1)
    client = _bearer(owner_token)

    profile = client.get("/api/v1/auth/profile")
    patched = client.patch(f"/api/v1/media/{media.pk}", {"description": "edited"})
    analyzed = client.post(f"/api/v1/media/{media.pk}/analyze", {})
    report = client.get(f"/api/v1/pdf/report/run/{media.latest_run_id}")
    deleted = client.delete(f"/api/v1/media/{media.pk}")

    assert profile.json()["data"]["email"] == owner.email
    assert patched.status_code == 200 and patched.json()["data"]["description"] == "edited"
    assert analyzed.status_code == 202 and analyzed.json()["data"]["latestRun"]["runNumber"] == 2
    assert report.status_code == 200 and report["Content-Type"] == "application/pdf"
    assert report.content.startswith(b"%PDF")
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert not Media.objects.filter(pk=media.pk).exists()
