import pytest

from accounts.models import Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP_URL = "/api/v1/auth/signup"
VALID = {
    "email": "Grace.Hopper@Example.com",
    "password": "cobol-was-a-good-idea-1959",
    "firstName": "Grace",
    "lastName": "Hopper",
}


def test_signup_creates_a_user_and_logs_it_in(api_client):
    response = api_client.post(SIGNUP_URL, VALID)

    assert response.status_code == 201
    body = response.json()
    assert body["statusCode"] == 201 and body["success"] is True
    data = body["data"]
    assert set(data) == {"user", "token", "refreshToken"}
    assert data["user"]["email"] == "grace.hopper@example.com"
    assert data["user"]["firstName"] == "Grace" and data["user"]["role"] == "USER"
    assert "password" not in data["user"]
    user = User.objects.get(email="grace.hopper@example.com")
    assert user.check_password(VALID["password"]) and user.role == Role.USER
    assert response.cookies["authToken"].value == data["token"]

    profile = api_client.get("/api/v1/auth/profile", HTTP_AUTHORIZATION=f"Bearer {data['token']}")
    assert profile.json()["data"]["id"] == str(user.id)


def test_duplicate_email_in_any_case_is_409(api_client):
    UserFactory(email="grace.hopper@example.com")

    response = api_client.post(SIGNUP_URL, {**VALID, "email": "GRACE.HOPPER@example.com"})

    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "email"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("83749283749283", "entirely numeric"),
    ],
)
def test_weak_password_is_400_with_validator_messages(api_client, password, fragment):
    response = api_client.post(SIGNUP_URL, {**VALID, "password": password})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["field"] == "password"
    assert fragment in errors[0]["message"]
    assert not User.objects.exists()


def test_password_similar_to_the_email_is_refused(api_client):
    response = api_client.post(
        SIGNUP_URL, {**VALID, "email": "zebracrossing@example.com", "password": "zebracrossing"}
    )

    assert response.status_code == 400
    assert "too similar" in response.json()["errors"][0]["message"]


def test_missing_and_malformed_fields_are_named(api_client):
    response = api_client.post(SIGNUP_URL, {"email": "not-an-email", "password": "x"})

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"email", "firstName", "lastName"}


def test_role_in_the_signup_body_is_ignored(api_client):
    response = api_client.post(SIGNUP_URL, {**VALID, "role": "ADMIN", "isActive": False})

    assert response.status_code == 201
    user = User.objects.get()
    assert user.role == Role.USER and user.is_active


def test_signup_is_throttled_per_address(api_client, settings):
    settings.API_SIGNUP_THROTTLE_RATE = "2/hour"
    for n in range(2):
        assert (
            api_client.post(SIGNUP_URL, {**VALID, "email": f"u{n}@example.com"}).status_code == 201
        )

    response = api_client.post(SIGNUP_URL, {**VALID, "email": "u9@example.com"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(email="u9@example.com").exists()
