"""Redis down while a user logs in or uploads: 503 with a retry hint, and nothing half saved.

Redis holds the login-failure counters, the upload throttle and the broker. While it does not
answer, the login (API and page) and the upload answer 503 in their usual form (the envelope, or
a page of its own) with `Retry-After`; nothing is stored; once Redis is back the same request
succeeds. Redis is reached through a TCP relay that is taken down, so clients see a real outage
(connections cut, then refused) without touching the shared server.
"""

from __future__ import annotations

import copy
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from media_analysis.models import Media
from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.media_files import make_image, stored_files
from tests.reliability.tcp_outage_proxy import OutageProxy

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_relay(settings):
    """Cache and throttles reach Redis through a relay that the test can take down."""
    shared = urlsplit(settings.REDIS_URL)
    relay = OutageProxy(shared.hostname, shared.port or 6379).start()
    url = f"redis://127.0.0.1:{relay.port}{shared.path or '/0'}"
    caches = copy.deepcopy(settings.CACHES)
    caches["default"].update(LOCATION=url, KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    settings.CACHES = caches
    settings.REDIS_URL = url
    try:
        yield relay
    finally:
        relay.go_down()


def _assert_outage_envelope(response, settings) -> None:
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["success"] is False and body["statusCode"] == 503
    assert "try again in a few seconds" in body["message"]
    assert "Traceback" not in response.content.decode()
    assert response["Retry-After"] == str(settings.OUTAGE_RETRY_AFTER_SECONDS)


def test_api_login_answers_503_while_redis_is_down_and_works_once_it_is_back(
    redis_relay, user, settings
):
    credentials = {"email": user.email, "password": DEFAULT_PASSWORD}
    redis_relay.go_down()

    down = APIClient().post("/api/v1/auth/login", credentials)
    redis_relay.come_back()
    back = APIClient().post("/api/v1/auth/login", credentials)

    _assert_outage_envelope(down, settings)
    assert back.status_code == 200


def test_the_login_page_answers_a_503_page_while_redis_is_down(redis_relay, user, settings):
    redis_relay.go_down()

    # As a browser gets it: the answer Django's handlers made, not the exception re-raised.
    response = Client(raise_request_exception=False).post(
        "/accounts/login/", {"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.OUTAGE_RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert "Briefly unavailable" in page and "Nothing you sent was saved" in page
    assert "Traceback" not in page


def test_an_upload_answers_503_keeps_nothing_and_succeeds_once_redis_is_back(
    redis_relay, user, settings, fake_inference, upload_temp_dir, tmp_path
):
    image = make_image(tmp_path / "still.png").read_bytes()
    client = APIClient()
    client.force_authenticate(user)

    def upload():
        media = SimpleUploadedFile("still.png", image, content_type="image/png")
        return client.post("/api/v1/media", {"media": media}, format="multipart")

    redis_relay.go_down()
    down = upload()

    _assert_outage_envelope(down, settings)
    assert Media.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []
    assert list(upload_temp_dir.iterdir()) == []

    redis_relay.come_back()
    back = upload()

    assert back.status_code == 202, back.content
    assert Media.objects.count() == 1
