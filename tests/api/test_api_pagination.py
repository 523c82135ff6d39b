import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.probe_urls")]

LIST_URL = "/api/v1/probe/users"


def make_users(count: int) -> None:
    User.objects.bulk_create(
        User(email=f"bulk{n:03}@example.com", password="!") for n in range(count)
    )


def test_page_shape_and_default_size(bearer_client, settings):
    settings.API_DEFAULT_PAGE_SIZE = 3
    make_users(6)  # plus the logged-in user: 7

    response = bearer_client.get(LIST_URL)

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"results", "count", "page", "pageSize", "totalPages"}
    assert (data["count"], data["page"], data["pageSize"], data["totalPages"]) == (7, 1, 3, 3)
    assert [u["email"] for u in data["results"]] == [
        "bulk000@example.com",
        "bulk001@example.com",
        "bulk002@example.com",
    ]
    assert set(data["results"][0]) >= {"id", "firstName", "isActive"}


def test_later_page(bearer_client):
    make_users(6)

    data = bearer_client.get(LIST_URL, {"page": 2, "pageSize": 4}).json()["data"]

    assert (data["page"], data["pageSize"], data["totalPages"]) == (2, 4, 2)
    assert len(data["results"]) == 3


def test_page_size_is_capped_at_100(bearer_client, settings):
    assert settings.API_MAX_PAGE_SIZE == 100
    make_users(100)

    data = bearer_client.get(LIST_URL, {"pageSize": 1000}).json()["data"]

    assert data["pageSize"] == 100
    assert len(data["results"]) == 100
    assert data["totalPages"] == 2


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_invalid_page_size_is_400(bearer_client, value):
    response = bearer_client.get(LIST_URL, {"pageSize": value})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "pageSize"


def test_non_numeric_page_is_400(bearer_client):
    response = bearer_client.get(LIST_URL, {"page": "last"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "page"


def test_page_past_the_end_is_404_in_the_envelope(bearer_client):
    response = bearer_client.get(LIST_URL, {"page": 5})

    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False and body["statusCode"] == 404
    assert "Page 5" in body["message"]


def test_query_count_does_not_grow_with_page_size(bearer_client):
    make_users(60)

    def queries_for(page_size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert bearer_client.get(LIST_URL, {"pageSize": page_size}).status_code == 200
        return len(captured)

    assert queries_for(5) == queries_for(50)


def test_list_needs_authentication(api_client):
    UserFactory()

    assert api_client.get(LIST_URL).status_code == 401
