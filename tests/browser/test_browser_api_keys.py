"""API keys on the profile page in Chromium: create one, copy it, revoke it through the dialog."""

from __future__ import annotations

import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def email(transactional_db) -> str:
    # Made before the browser starts: its event loop rules out the ORM afterwards in this thread.
    return UserFactory().email


def test_create_copy_and_revoke_a_key(email, asgi_server, browser_page, screenshot):
    page, problems = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    page.goto(f"{asgi_server}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server}/")

    page.goto(f"{asgi_server}/accounts/profile/")
    page.get_by_label("Key name").fill("Newsroom CMS")
    page.get_by_role("button", name="Create API key").click()
    secret = page.get_by_label("API key", exact=True).input_value()
    assert secret.startswith("dk_")
    # The copy button is the script's: hidden until it runs.
    page.get_by_role("button", name="Copy key").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "api-keys-created")

    page.get_by_role("button", name="Revoke Newsroom CMS").click()
    dialog = page.get_by_role("dialog")
    assert "stops working at once" in dialog.inner_text()
    dialog.get_by_role("button", name="Revoke").click()
    page.get_by_text("has been revoked").wait_for()
    assert page.get_by_role("cell", name="Revoked").count() == 1
    screenshot(page, "api-keys-revoked")

    answer = page.request.get(
        f"{asgi_server}/api/v1/media", headers={"Authorization": f"Api-Key {secret}"}
    )
    assert answer.status == 401
    assert problems.messages == []
