"""Response headers that keep what a browser holds safe: the content policy, and no cached tokens.

An answer carrying an access or refresh token (or a websocket ticket) must never be stored by a
browser's or a proxy's cache, where the next user of a shared machine or proxy could read it.
"""

from __future__ import annotations

import pytest

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "new.reader@example.com",
    "password": "a-long-and-unusual-passphrase-42",
    "firstName": "New",
    "lastName": "Reader",
}


def _never_cached(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_every_answer_that_carries_a_token_is_never_stored(api_client, user, isolated_cache):
    signup = api_client.post("/api/v1/auth/signup", SIGNUP, format="json")
    login = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}
    )
    refresh = api_client.post(
        "/api/v1/auth/refresh", {"refreshToken": login.json()["data"]["refreshToken"]}
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['data']['token']}")
    ticket = api_client.post("/api/v1/auth/ws-ticket")

    answers = {"signup": signup, "login": login, "refresh": refresh, "ws-ticket": ticket}
    assert {name: a.status_code for name, a in answers.items()} == {
        "signup": 201,
        "login": 200,
        "refresh": 200,
        "ws-ticket": 201,
    }
    assert [name for name, answer in answers.items() if not _never_cached(answer)] == []


def test_pages_api_answers_and_errors_carry_the_strict_policy(api_client, client, user):
    client.force_login(user)
    answers = [
        client.get("/"),
        api_client.get("/accounts/login/"),
        client.get("/no-such-page/"),
        api_client.get("/api/v1/media"),
        api_client.get("/api/health"),
    ]

    policies = [answer["Content-Security-Policy"] for answer in answers]
    for policy in policies:
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
    assert [a.status_code for a in answers] == [200, 200, 404, 401, 200]
