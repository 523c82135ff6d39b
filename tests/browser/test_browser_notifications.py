"""A finished run is announced on whatever page is open, in headless Chromium on the real stack.

The runs are started here (the service the upload and "Analyse again" call) while the browser
shows another page; the worker, the fake inference server and the websocket do the rest. The
browser's Notification is replaced by a recording stand-in that defers to the real one for the
permission, so the test sees every notification the page creates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import expect

from media_analysis.choices import MediaType, RunStatus
from media_analysis.models import AnalysisRun
from media_analysis.pipeline.start import run_start
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.pipeline import stored_media

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.createdNotifications = [];
  window.notificationClicks = [];
  window.permissionRequests = 0;
  class Recording {
    static get permission() { return Real.permission; }
    static requestPermission() {
      window.permissionRequests += 1;
      return Real.requestPermission();
    }
    constructor(title, options = {}) {
      window.createdNotifications.push({title, body: options.body, tag: options.tag});
    }
    addEventListener(type, listener) {
      if (type === "click") window.notificationClicks.push(listener);
    }
    close() {}
  }
  window.Notification = Recording;
})();
"""
# Every websocket the page opens, in order: module scripts run before the load event, so once a
# page has loaded this holds every socket its scripts opened.
RECORD_SOCKETS = """
(() => {
  const Real = window.WebSocket;
  window.openedSockets = [];
  window.WebSocket = class extends Real {
    constructor(url, protocols) {
      super(url, protocols);
      window.openedSockets.push(String(url));
    }
  };
})();
"""
FINAL_STATUSES = (RunStatus.ANALYZED, RunStatus.PARTIALLY_ANALYZED, RunStatus.FAILED)


@pytest.fixture
def owner_and_clip(transactional_db, media_file) -> tuple:
    user = UserFactory()
    clip = stored_media(
        owner=user,
        media_type=MediaType.VIDEO,
        extension="mp4",
        mimetype="video/mp4",
        content=media_file("clip.mp4").read_bytes(),
        original_filename="clip.mp4",
    )
    return user, clip


def off_the_browser_loop(work: Callable[..., Any], **kwargs: Any) -> Any:
    """Run database work in its own thread: Playwright's sync API keeps an event loop running in
    the test's thread, where Django refuses queries."""

    def run() -> Any:
        try:
            return work(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def log_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def expected_text(run: AnalysisRun) -> str:
    off_the_browser_loop(run.refresh_from_db)
    assert run.status in FINAL_STATUSES
    assert run.status != RunStatus.FAILED and run.fake_score is not None
    return (
        f"clip.mp4 — run #{run.run_number} finished: "
        f"{run.get_verdict_display()} (fake score {round(run.fake_score * 100)} %)"
    )


def prepare(page, base_url: str) -> None:
    page.context.grant_permissions(["notifications"], origin=base_url)
    page.add_init_script(RECORD_NOTIFICATIONS)
    page.add_init_script(RECORD_SOCKETS)


def progress_socket(base_url: str) -> str:
    return f"{base_url.replace('http', 'ws', 1)}/ws/progress/"


def test_a_finished_run_is_a_toast_a_title_count_and_after_opt_in_a_notification(
    owner_and_clip, asgi_server, pipeline_worker, browser_page, screenshot
):
    user, clip = owner_and_clip
    page, problems = browser_page
    prepare(page, asgi_server)
    log_in(page, asgi_server, user.email)
    page.goto(f"{asgi_server}/accounts/profile/")
    assert page.evaluate("window.openedSockets") == [progress_socket(asgi_server)]
    toasts = page.locator(".toast-region .toast")
    optin = page.locator("[data-notify-optin]").get_by_role("button")
    expect(optin).to_have_text("Notify me when runs finish")
    expect(page).to_have_title("Profile · Drishtiksha")

    first = off_the_browser_loop(run_start, media=clip)
    expect(toasts).to_have_count(1)
    toast = toasts.first
    expect(toast.locator(".toast-text")).to_have_text(expected_text(first))
    link = toast.get_by_role("link", name="Open the run")
    assert link.get_attribute("href") == f"/runs/{first.pk}/"
    expect(page).to_have_title("(1) Profile · Drishtiksha")
    # Before opting in: no notification, and the permission was never asked for.
    assert page.evaluate("window.createdNotifications") == []
    assert page.evaluate("window.permissionRequests") == 0
    assert page.evaluate("localStorage.getItem('drishtiksha.notifyRuns')") is None
    screenshot(page, "notification-toast")

    toast.get_by_role("button", name="Dismiss").click()
    expect(toasts).to_have_count(0)
    expect(page).to_have_title("Profile · Drishtiksha")

    optin.click()
    expect(optin).to_have_text("Stop browser notifications")
    assert page.evaluate("localStorage.getItem('drishtiksha.notifyRuns')") == "on"

    second = off_the_browser_loop(run_start, media=clip)
    expect(toasts).to_have_count(1)
    text = expected_text(second)
    assert f"run #{second.run_number} finished" in text and second.run_number == 2
    expect(toasts.first.locator(".toast-text")).to_have_text(text)
    expect(page).to_have_title("(1) Profile · Drishtiksha")
    page.wait_for_function("window.createdNotifications.length > 0")
    assert page.evaluate("window.createdNotifications") == [
        {"title": "Run finished", "body": text, "tag": f"run-{second.pk}"}
    ]
    # A click on the notification opens the run in this tab.
    page.evaluate("window.notificationClicks[0]()")
    page.wait_for_url(f"{asgi_server}/runs/{second.pk}/")
    assert problems.messages == []


def test_the_media_page_shares_one_socket_and_shows_its_own_run_without_a_toast(
    owner_and_clip, asgi_server, pipeline_worker, browser_page
):
    user, clip = owner_and_clip
    page, problems = browser_page
    prepare(page, asgi_server)
    page.add_init_script("localStorage.setItem('drishtiksha.notifyRuns', 'on')")
    log_in(page, asgi_server, user.email)
    page.goto(f"{asgi_server}/media/{clip.pk}/")
    # The page's live panel and the notifier read one connection, not narrowed with ?media=.
    assert page.evaluate("window.openedSockets") == [progress_socket(asgi_server)]

    run = off_the_browser_loop(run_start, media=clip)
    # The media page's own live panel (fed by the shared connection) shows the run finish.
    panel = page.locator(f'details.run[data-run-id="{run.pk}"]')
    expect(panel).to_have_attribute(
        "data-run-status", re.compile("|".join(FINAL_STATUSES)), timeout=30_000
    )
    expected_text(run)
    # The page announced RUN_COMPLETED; the notifier was handed the same event in the same turn.
    expect(page.locator("#live-announcer")).to_contain_text(f"Run #{run.run_number} finished")
    expect(page.locator(".toast-region .toast")).to_have_count(0)
    assert page.evaluate("window.createdNotifications") == []
    expect(page).to_have_title(re.compile(r"^(?!\(\d+\) )"))

    page.goto(f"{asgi_server}/")
    assert page.locator("[data-progress-socket]").count() == 1
    assert page.evaluate("window.openedSockets") == [progress_socket(asgi_server)]
    assert problems.messages == []


# The tab's visibility, set by the test: headless Chromium's pages are always "visible".
CONTROL_VISIBILITY = """
(() => {
  let state = "visible";
  Object.defineProperty(document, "visibilityState", {get: () => state, configurable: true});
  Object.defineProperty(document, "hidden", {get: () => state !== "visible", configurable: true});
  window.setVisibility = (next) => {
    state = next;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""
TOAST_SECONDS = 1


@pytest.fixture
def short_toasts(monkeypatch) -> None:
    """Toasts that hide one second after being seen (read by the server `asgi_server` starts)."""
    monkeypatch.setenv("NOTIFICATION_TOAST_SECONDS", str(TOAST_SECONDS))


def test_a_hidden_tab_keeps_its_toast_and_counts_runs_whose_page_is_open(
    short_toasts, owner_and_clip, asgi_server, pipeline_worker, browser_page
):
    user, clip = owner_and_clip
    page, problems = browser_page
    prepare(page, asgi_server)
    page.add_init_script(CONTROL_VISIBILITY)
    log_in(page, asgi_server, user.email)
    toasts = page.locator(".toast-region .toast")

    # Another page, hidden: the toast waits there, well past its time, for the user to come back.
    page.goto(f"{asgi_server}/upload/")
    page.evaluate("setVisibility('hidden')")
    first = off_the_browser_loop(run_start, media=clip)
    expect(toasts).to_have_count(1)
    expect(page).to_have_title("(1) Upload · Drishtiksha")
    page.wait_for_timeout(TOAST_SECONDS * 2000)
    expect(toasts.first.locator(".toast-text")).to_have_text(expected_text(first))
    page.evaluate("setVisibility('visible')")
    expect(toasts).to_have_count(0)
    expect(page).to_have_title("Upload · Drishtiksha")

    # The run's own media page, hidden: no toast (the page shows the run), but the title counts.
    page.goto(f"{asgi_server}/media/{clip.pk}/")
    base_title = page.title()
    page.evaluate("setVisibility('hidden')")
    second = off_the_browser_loop(run_start, media=clip)
    expect(page).to_have_title(f"(1) {base_title}", timeout=30_000)
    expected_text(second)
    expect(toasts).to_have_count(0)
    page.evaluate("setVisibility('visible')")
    expect(page).to_have_title(base_title)
    assert problems.messages == []
