"""Only ADMIN-role users reach the admin: everyone else is sent to its login and sees nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from accounts.services import user_set_role
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
def test_regular_users_are_sent_to_the_admin_login_and_see_no_data(user_client, url):
    MediaFactory(original_filename="secret-evidence.mp4")

    response = user_client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    followed = user_client.get(url, follow=True).content.decode()
    assert "secret-evidence.mp4" not in followed
    assert "Site administration" not in followed


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

    assert client.get("/admin/").status_code == 302
