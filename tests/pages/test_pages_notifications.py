"""The run notifier of every page: base.html hands it the progress socket, for logged-in users."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

NOTIFIER = re.compile(r"<div class=\"toast-region\"[^>]*data-notifier[^>]*>", re.S)
SCRIPT = "js/notifications.js"


def notifier_attributes(html: str) -> dict[str, str]:
    tag = NOTIFIER.search(html)
    assert tag is not None, "no notifier on the page"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(0)))


@pytest.mark.parametrize("path", ["/", "/upload/", "/accounts/profile/"])
def test_every_page_of_a_logged_in_user_carries_the_notifier(browser, settings, path):
    settings.NOTIFICATION_TOAST_SECONDS = 7

    html = browser.get(path).content.decode()

    attributes = notifier_attributes(html)
    placeholder = attributes["id-placeholder"]
    assert uuid.UUID(placeholder).int == 0
    assert attributes["socket-path"] == "/ws/progress/"
    assert attributes["run-url"] == f"/runs/{placeholder}/"
    assert attributes["media-url"] == f"/media/{placeholder}/"
    assert attributes["toast-seconds"] == "7"
    assert 'role="status" aria-live="polite"' in html
    assert html.count(SCRIPT) == 1


def test_the_dashboard_keeps_its_own_socket_holder_apart_from_the_notifier(browser):
    html = browser.get("/").content.decode()

    # dashboard.js finds its holder by `data-progress-socket`; the notifier must not be it.
    assert html.count("data-progress-socket=") == 1
    assert "data-progress-socket" not in NOTIFIER.search(html).group(0)


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_visitors_get_no_notifier(path):
    html = Client().get(path).content.decode()

    assert NOTIFIER.search(html) is None
    assert SCRIPT not in html
    assert "/ws/progress/" not in html


def test_the_profile_page_offers_the_opt_in_for_the_script_to_reveal(browser):
    html = browser.get("/accounts/profile/").content.decode()

    optin = re.search(r"<p class=\"notify-optin\" data-notify-optin hidden>(.*?)</p>", html, re.S)
    assert optin is not None
    assert 'type="button"' in optin.group(1)
    assert "Notify me when runs finish" in optin.group(1)
