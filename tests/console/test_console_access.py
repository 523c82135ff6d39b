"""Only ADMIN-role users reach the admin: a logged-in regular user gets 403 on every admin page,
a visitor who is not logged in is sent to the admin login, and neither sees any data."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from accounts.services import user_set_role
from media_analysis.models import Media
from tests.factories import AdminUserFactory, MediaFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/user/",
    "/admin/media_analysis/media/",
    "/admin/media_analysis/analysisrun/",
    "/admin/media_analysis/deepfakeanalysis/",
    "/admin/monitoring/serverhealth/",
]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_regular_users_get_403_and_see_no_data(user_client, url):
    media = MediaFactory(original_filename="secret-evidence.mp4")

    for page in (url, f"/admin/media_analysis/media/{media.pk}/change/"):
        response = user_client.get(page)

        assert response.status_code == 403
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        # The site's own 403 page, not a stack trace or the admin.
        assert "<h1>Not allowed</h1>" in html
        assert "secret-evidence.mp4" not in html
        assert "Drishtiksha console" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/password_change/",
        "/admin/jsi18n/",
        "/admin/media_analysis/media/add/",
        "/admin/no-such-page/",
    ],
)
def test_regular_users_get_403_on_the_admins_other_urls_too(user_client, url):
    assert user_client.get(url).status_code == 403


def test_a_regular_users_post_to_an_admin_action_is_refused_and_changes_nothing(user_client):
    media = MediaFactory(original_filename="keep-me.mp4")

    response = user_client.post(
        "/admin/media_analysis/media/",
        {"action": "delete_selected", "_selected_action": [str(media.pk)], "post": "yes"},
    )

    assert response.status_code == 403
    assert Media.objects.filter(pk=media.pk).exists()


def test_a_regular_user_may_still_open_the_admin_login_to_switch_to_a_staff_account(
    user_client, user
):
    response = user_client.get("/admin/login/")

    assert response.status_code == 200
    assert f"You are authenticated as {user.email}, but are not authorized" in (
        response.content.decode()
    )


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(url):
    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_regular_user_cannot_log_in_to_the_admin(user):
    response = Client().post(
        "/admin/login/",
        {"username": user.email, "password": "correct-horse-battery-staple", "next": "/admin/"},
    )

    assert response.status_code == 200  # the form again, with its error
    assert "Please enter the correct email and password for a staff account" in (
        response.content.decode()
    )


def test_a_demoted_admin_loses_the_admin_at_once(staff_user):
    client = Client()
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200

    user_set_role(actor=AdminUserFactory(), user=staff_user, role=Role.USER)

    assert client.get("/admin/").status_code == 403
