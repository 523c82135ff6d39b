"""The Content-Security-Policy in Chromium: every page works under it, and injected markup is dead.

Each page of the site (the user's pages, the monitoring page, the admin console, the API
documentation, an error page) is opened with a listener for `securitypolicyviolation`: none may
fire, and nothing may log an error. Then markup injected into a page, as a stored XSS would
inject it, tries to run a handler and a style attribute: the browser refuses both.
"""

from __future__ import annotations

import pytest

from media_analysis.choices import MediaType
from tests.factories import DEFAULT_PASSWORD, AdminUserFactory, image_result_payload
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import finished_run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI || "inline"}`);
});
"""
INJECT = """() => {
  document.body.insertAdjacentHTML("beforeend",
    '<img src="/static/none.png" onerror="window.injected = true">' +
    '<p id="injected-style" style="color: rgb(1, 2, 3)">styled</p>');
}"""


@pytest.fixture
def site(transactional_db, media_file) -> dict:
    """A staff user with one analysed image, so that every kind of page has something to show."""
    user = AdminUserFactory()
    picture = stored_media(
        owner=user,
        media_type=MediaType.IMAGE,
        extension="png",
        mimetype="image/png",
        content=media_file("photo.png", size="320x240").read_bytes(),
        original_filename="photo.png",
    )
    run = finished_run(
        picture, models=(("DISTIL-DIRE-V1", "FAKE", 0.66),), payload=image_result_payload
    )
    return {"email": user.email, "media": picture, "run": run, "analysis": run.analyses.get()}


def test_every_page_runs_under_the_policy_and_injected_markup_does_not(
    site, asgi_server, browser_page, screenshot
):
    page, problems = browser_page
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{asgi_server}/accounts/login/")
    page.get_by_label("Email").fill(site["email"])
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server}/")

    media, run, analysis = site["media"], site["run"], site["analysis"]
    paths = [
        "/",
        "/upload/",
        f"/media/{media.pk}/",
        f"/media/{media.pk}/edit/",
        f"/runs/{run.pk}/",
        f"/analyses/{analysis.pk}/",
        "/accounts/profile/",
        "/monitoring/",
        "/admin/",
        "/admin/media_analysis/media/",
        f"/admin/media_analysis/media/{media.pk}/change/",
        "/admin/media_analysis/analysisrun/",
        "/api/docs/",
    ]
    violations = {}
    for path in paths:
        response = page.goto(f"{asgi_server}{path}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200, path
        assert "script-src 'self';" in response.headers["content-security-policy"], path
        if seen := page.evaluate("window.cspViolations"):
            violations[path] = seen
    assert violations == {}
    assert page.locator(".swagger-ui").count() == 1, "the API documentation did not render"
    assert problems.messages == []
    missing = page.goto(f"{asgi_server}/media/00000000-0000-0000-0000-000000000000/")
    assert missing.status == 404
    assert "default-src 'self'" in missing.headers["content-security-policy"]

    page.goto(f"{asgi_server}/")
    page.evaluate(INJECT)
    page.wait_for_function("() => window.cspViolations.length >= 2")
    color = page.locator("#injected-style").evaluate("(p) => getComputedStyle(p).color")

    assert page.evaluate("window.injected") is None
    assert color != "rgb(1, 2, 3)"
    assert sorted(v.split(" ")[0] for v in page.evaluate("window.cspViolations")) == [
        "script-src-attr",
        "style-src-attr",
    ]
