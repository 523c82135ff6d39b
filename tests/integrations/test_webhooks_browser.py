"""The webhook page in Chromium: it runs under the Content-Security-Policy and copies the secret."""

from __future__ import annotations

import pytest

from integrations.services import webhook_create
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def site(transactional_db, local_webhooks, receiver):
    """Made before the browser starts: Playwright's event loop rules out the ORM afterwards."""
    user = UserFactory()
    return user, webhook_create(owner=user, url=receiver.url, description="CI receiver")


def test_the_secret_is_copied_by_its_button_under_the_policy(
    site, asgi_server, browser_page, screenshot
):
    user, webhook = site
    page, problems = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{asgi_server}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server}/")

    page.goto(f"{asgi_server}/integrations/webhooks/")
    page.get_by_role("link", name=webhook.url).click()
    page.get_by_text("Reveal the secret").click()
    page.get_by_role("button", name="Copy secret").click()
    page.get_by_role("button", name="Copied").wait_for()

    assert page.evaluate("navigator.clipboard.readText()") == webhook.secret
    assert page.evaluate("window.cspViolations") == []
    assert problems.messages == []
    screenshot(page, "webhook-detail")
