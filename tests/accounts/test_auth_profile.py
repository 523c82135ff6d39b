import pytest

from accounts.models import Role

pytestmark = pytest.mark.django_db

PROFILE_URL = "/api/v1/auth/profile"


def test_get_profile(bearer_client, user):
    data = bearer_client.get(PROFILE_URL).json()["data"]

    assert data == {
        "id": str(user.id),
        "email": user.email,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "role": "USER",
        "isActive": True,
        "createdAt": data["createdAt"],
        "updatedAt": data["updatedAt"],
    }


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_names(bearer_client, user, method):
    response = getattr(bearer_client, method)(
        PROFILE_URL, {"firstName": "Grace", "lastName": "Hopper"}
    )

    assert response.status_code == 200
    assert response.json()["message"] == "Profile updated"
    assert response.json()["data"]["firstName"] == "Grace"
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")


def test_one_name_alone_leaves_the_other(bearer_client, user):
    bearer_client.patch(PROFILE_URL, {"lastName": "Byron"})

    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Ada", "Byron")


@pytest.mark.parametrize(
    "extra",
    [
        {"role": "ADMIN"},
        {"isActive": False},
        {"is_superuser": True},
        {"email": "new@example.com"},
        {"password": "owned-you-1234"},
        {"id": "00000000-0000-0000-0000-000000000001"},
    ],
)
def test_mass_assignment_is_refused_and_nothing_changes(bearer_client, user, extra):
    before = (user.email, user.password, user.role, user.is_active, user.is_superuser, user.pk)

    response = bearer_client.put(PROFILE_URL, {"firstName": "Eve", **extra})

    assert response.status_code == 400
    key = next(iter(extra))
    assert any(key in error["message"] for error in response.json()["errors"])
    user.refresh_from_db()
    assert user.first_name == "Ada"
    assert (user.email, user.password, user.role, user.is_active, user.is_superuser, user.pk) == (
        before
    )
    assert user.role == Role.USER


def test_empty_update_is_400(bearer_client):
    assert bearer_client.put(PROFILE_URL, {}).status_code == 400


def test_overlong_name_is_400(bearer_client):
    response = bearer_client.put(PROFILE_URL, {"firstName": "x" * 151})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "firstName"


def test_profile_needs_authentication(api_client):
    assert api_client.put(PROFILE_URL, {"firstName": "Eve"}).status_code == 401
