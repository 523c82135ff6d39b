"""The OpenAPI document is valid and describes what the API really sends."""

import json

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate as validate_openapi

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = ["statusCode", "data", "message", "success"]
ERROR_REF = "#/components/schemas/ErrorEnvelope"


@pytest.fixture
def schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)
    validate_openapi(schema)


def test_schema_generation_has_no_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0")


def test_every_auth_endpoint_is_documented(schema):
    documented = {(path, method) for path, method, _ in operations(schema)}

    assert documented >= {
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/profile", "get"),
        ("/api/v1/auth/profile", "put"),
        ("/api/v1/auth/profile", "patch"),
        ("/api/v1/auth/profile/password", "put"),
        ("/api/v1/auth/password-reset", "post"),
        ("/api/v1/auth/password-reset/confirm", "post"),
    }


def test_every_success_body_is_the_envelope_and_every_error_the_error_envelope(schema):
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if code == "204":
                assert "content" not in response, (path, method, code)
                continue
            content = response["content"]
            if int(code) >= 400:
                assert content["application/json"]["schema"] == {"$ref": ERROR_REF}, (path, code)
            elif "application/json" in content:
                body = content["application/json"]["schema"]
                assert body["required"] == ENVELOPE_KEYS, (path, method, code)
                assert body["properties"]["statusCode"]["example"] == int(code)
            else:
                # File downloads (media, thumbnails, PDF reports) answer with the bytes themselves.
                formats = {media["schema"].get("format") for media in content.values()}
                assert formats == {"binary"}, (path, method, code)


def test_error_envelope_component_matches_real_errors(schema):
    error = schema["components"]["schemas"]["ErrorEnvelope"]

    assert error["required"] == ["statusCode", "success", "message", "errors"]
    assert error["properties"]["errors"]["items"]["required"] == ["field", "message"]


def test_login_documents_its_user_tokens_and_errors(schema):
    responses = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]

    data_ref = responses["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    auth_result = schema["components"]["schemas"][data_ref["$ref"].rsplit("/", 1)[1]]
    assert set(auth_result["properties"]) == {"user", "token", "refreshToken"}
    assert {"400", "401", "429", "500"} <= set(responses)


def test_protected_endpoints_document_401_and_all_three_credentials(schema):
    operation = schema["paths"]["/api/v1/auth/profile"]["get"]

    assert {"401", "403"} <= set(operation["responses"])
    schemes = {name for requirement in operation["security"] for name in requirement}
    assert schemes == {"jwtAuth", "apiKeyAuth", "cookieAuth", "authTokenCookie"}
    assert schema["components"]["securitySchemes"]["authTokenCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "authToken",
    }


def test_camelcase_field_names_in_the_schema(schema):
    user = schema["components"]["schemas"]["User"]["properties"]

    assert {"firstName", "lastName", "isActive", "createdAt"} <= set(user)
    assert not any("_" in name for name in user)


@pytest.mark.urls("tests.api.probe_urls")
def test_paginated_lists_document_exactly_the_page_shape(schema):
    operation = schema["paths"]["/api/v1/probe/users"]["get"]

    params = {param["name"] for param in operation["parameters"]}
    assert params == {"page", "pageSize"}
    data = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "data"
    ]
    page = schema["components"]["schemas"][data["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"results", "count", "page", "pageSize", "totalPages"}
    assert page["required"] == ["results", "count", "page", "pageSize", "totalPages"]
    assert "404" in operation["responses"]


def test_interactive_docs_use_local_assets_only():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    # No inline script (the content policy forbids it): the set-up script is a file of its own.
    assert "<script>" not in html
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
