"""Every /api answer travels in the envelope, whatever went wrong and wherever it went wrong."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from drishtiksha.middleware import RequestIdLogFilter
from tests.api.probe_urls import SECRET_IN_EXCEPTION

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.probe_urls")]


def assert_error_envelope(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["statusCode"] == status
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list)
    assert "data" not in body
    return body


def test_success_answers_are_wrapped(bearer_client, user):
    response = bearer_client.get("/api/v1/auth/profile")

    body = response.json()
    assert response.status_code == 200
    assert body == {
        "statusCode": 200,
        "data": body["data"],
        "message": "Success",
        "success": True,
    }
    assert body["data"]["email"] == user.email


def test_validation_error_is_400_with_camelcase_field_errors(api_client):
    response = api_client.post(
        "/api/v1/probe/echo", {"modelName": "X", "processingTime": "slow"}, format="json"
    )

    body = assert_error_envelope(response, 400)
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"processingTime", "resultPayload"}
    assert body["message"] == "Invalid input."


def test_a_single_validation_error_becomes_the_message(api_client):
    response = api_client.post(
        "/api/v1/probe/echo",
        {"modelName": "X", "processingTime": 1.5, "resultPayload": None},
        format="json",
    )

    body = assert_error_envelope(response, 400)
    assert body["errors"] == [{"field": "resultPayload", "message": body["message"]}]


def test_malformed_json_is_400(api_client):
    response = api_client.post(
        "/api/v1/auth/login", data="{not json", content_type="application/json"
    )

    assert_error_envelope(response, 400)


def test_domain_error_keeps_its_status_message_and_fields(api_client):
    response = api_client.post("/api/v1/probe/conflict", {}, format="json")

    body = assert_error_envelope(response, 409)
    assert body["message"] == "Already there."
    assert body["errors"] == [{"field": "modelName", "message": "Taken."}]


def test_missing_credentials_are_401_with_a_challenge(api_client):
    response = api_client.get("/api/v1/auth/profile")

    assert_error_envelope(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_non_admin_on_a_staff_endpoint_is_403(bearer_client):
    assert_error_envelope(bearer_client.get("/api/v1/probe/staff"), 403)


def test_admin_passes_the_staff_permission(api_client, api_login, staff_user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_login(staff_user)['token']}")

    response = api_client.get("/api/v1/probe/staff")

    assert response.status_code == 200
    assert response.json()["data"] == {"secret": "for admins"}


def test_anonymous_on_a_staff_endpoint_is_401(api_client):
    assert_error_envelope(api_client.get("/api/v1/probe/staff"), 401)


def test_unknown_object_is_404(bearer_client):
    response = bearer_client.get("/api/v1/probe/users/8a4f3a4e-4f57-4e43-9d1c-7d2f3d8f0b11")

    assert assert_error_envelope(response, 404)["message"] == "Not found."


def test_malformed_id_is_404_not_500(bearer_client):
    assert_error_envelope(bearer_client.get("/api/v1/probe/users/not-a-uuid"), 404)


def test_id_that_misses_a_uuid_converter_is_404_in_the_envelope(bearer_client):
    assert_error_envelope(bearer_client.get("/api/v1/probe/users-by-uuid/not-a-uuid"), 404)


def test_unknown_api_url_is_404_in_the_envelope(api_client):
    assert_error_envelope(api_client.get("/api/v1/no-such-thing"), 404)


def test_unknown_page_url_is_an_html_404():
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content


def test_wrong_method_is_405_with_allow(api_client):
    response = api_client.get("/api/v1/auth/login")

    assert_error_envelope(response, 405)
    assert "POST" in response["Allow"]


def test_unsupported_content_type_is_415(api_client):
    response = api_client.post("/api/v1/auth/login", data="email=x", content_type="text/plain")

    assert_error_envelope(response, 415)


def test_oversized_json_body_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = api_client.post(
        "/api/v1/auth/login",
        {"email": "a@example.com", "password": "x" * 2048},
        format="json",
    )

    assert_error_envelope(response, 413)


def test_oversized_form_body_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = api_client.post(
        "/api/v1/auth/login", {"email": "a@example.com", "password": "x" * 2048}, format="multipart"
    )

    assert_error_envelope(response, 413)


def test_throttled_is_429_with_retry_after(api_client, settings):
    settings.API_SIGNUP_THROTTLE_RATE = "1/hour"
    payload = {"password": "a-long-passphrase-42", "firstName": "A", "lastName": "B"}
    api_client.post("/api/v1/auth/signup", {**payload, "email": "one@example.com"})

    response = api_client.post("/api/v1/auth/signup", {**payload, "email": "two@example.com"})

    assert_error_envelope(response, 429)
    assert 0 < int(response["Retry-After"]) <= 3600


def test_unexpected_error_is_500_without_internals_and_is_logged(api_client, caplog):
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.ERROR, logger="drishtiksha.api.exceptions"):
        response = api_client.get("/api/v1/probe/crash", HTTP_X_REQUEST_ID="req-crash-0001")

    body = assert_error_envelope(response, 500)
    text = response.content.decode()
    assert SECRET_IN_EXCEPTION not in text
    assert "Traceback" not in text and "RuntimeError" not in text
    assert body["requestId"] == "req-crash-0001"
    assert response["X-Request-ID"] == "req-crash-0001"
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].request_id == "req-crash-0001"
    assert SECRET_IN_EXCEPTION in str(logged[0].exc_info[1])


def test_crash_outside_drf_under_api_is_a_json_500():
    response = Client(raise_request_exception=False).get("/api/v1/probe/django-crash")

    body = assert_error_envelope(response, 500)
    assert SECRET_IN_EXCEPTION not in response.content.decode()
    assert body["requestId"] == response["X-Request-ID"]


def test_crash_in_a_page_is_an_html_500():
    response = Client(raise_request_exception=False).get("/pages/django-crash")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert SECRET_IN_EXCEPTION.encode() not in response.content


def test_every_response_carries_a_request_id(api_client):
    first = api_client.get("/api/health")
    second = api_client.get("/api/health")

    assert len(first["X-Request-ID"]) >= 8
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_incoming_request_id_is_kept_and_a_bad_one_replaced(api_client):
    kept = api_client.get("/api/health", HTTP_X_REQUEST_ID="proxy-id-12345")
    replaced = api_client.get("/api/health", HTTP_X_REQUEST_ID="bad id\r\nSet-Cookie: x")

    assert kept["X-Request-ID"] == "proxy-id-12345"
    assert replaced["X-Request-ID"] != "bad id\r\nSet-Cookie: x"
    assert replaced["X-Request-ID"].isalnum()


def test_camelcase_serializer_keeps_json_payload_keys_verbatim(api_client):
    payload = {"frame_scores": [0.1, 0.9], "model_info": {"device_name": "cuda:0"}}

    response = api_client.post(
        "/api/v1/probe/echo",
        {"modelName": "SIGLIP", "processingTime": 2.5, "resultPayload": payload},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["data"] == {
        "modelName": "SIGLIP",
        "processingTime": 2.5,
        "resultPayload": payload,
    }


def test_nested_errors_get_dotted_camelcase_paths(api_client):
    response = api_client.post(
        "/api/v1/probe/echo",
        {
            "modelName": "X",
            "processingTime": 1,
            "resultPayload": {},
            "frames": [{"frameIndex": 0}, {"frameIndex": -1}],
        },
        format="json",
    )

    body = assert_error_envelope(response, 400)
    assert [error["field"] for error in body["errors"]] == ["frames[1].frameIndex"]
