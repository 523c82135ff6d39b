"""The websocket origin check matches scheme, host and port, as Django's CSRF check does for HTTP.

A browser on `http://localhost:1234` is another site than `http://localhost:8000`, and a page
served over plain http is not the https site, so neither may open the progress stream with the
user's session cookie.
"""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.websocket.test_ws_auth import first_message, issue_ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _own_cache(isolated_cache):
    """Sessions and tickets live in the cache; each test gets a namespace of its own."""


@pytest.fixture
def user():
    return UserFactory()


def opens(communicator, user, **handshake) -> bool:
    """Whether a browser logged in as `user` gets the progress snapshot over this handshake."""
    accepted, message = first_message(communicator, user=user, **handshake)
    if accepted:
        assert '"type": "snapshot"' in message["text"]
    else:
        assert message["type"] == "websocket.close"
    return accepted


def test_a_page_on_another_port_of_the_same_host_is_refused(communicator, user):
    site = b"localhost:8000"

    assert not opens(communicator, user, host=site, origin=b"http://localhost:1234")
    assert not opens(communicator, user, host=site, origin=b"http://localhost")
    assert opens(communicator, user, host=site, origin=b"http://localhost:8000")


def test_a_page_over_another_scheme_is_refused(communicator, user):
    assert not opens(communicator, user, scheme="ws", origin=b"https://testserver")
    assert not opens(communicator, user, scheme="wss", origin=b"http://testserver")
    assert opens(communicator, user, scheme="wss", origin=b"https://testserver")


def test_default_ports_are_the_same_origin_written_or_not(communicator, user):
    assert opens(communicator, user, host=b"testserver", origin=b"http://testserver:80")
    assert opens(
        communicator, user, host=b"testserver:443", scheme="wss", origin=b"https://testserver"
    )
    assert not opens(communicator, user, host=b"testserver:443", origin=b"http://testserver")


def test_a_host_outside_allowed_hosts_has_no_origin_of_its_own(communicator, user):
    assert not opens(communicator, user, host=b"evil.example", origin=b"http://evil.example")


@pytest.mark.parametrize("origin", [b"null", b"not an origin", b"http://", b"http://testserver:x"])
def test_opaque_or_malformed_origins_are_refused(communicator, user, origin):
    assert not opens(communicator, user, origin=origin)


def test_trusted_origins_are_full_origins(communicator, user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example", "https://*.tenant.example:8443"]

    assert opens(communicator, user, origin=b"https://app.example")
    assert opens(communicator, user, origin=b"https://app.example:443")
    assert not opens(communicator, user, origin=b"http://app.example")
    assert not opens(communicator, user, origin=b"https://app.example:8443")
    assert opens(communicator, user, origin=b"https://one.tenant.example:8443")
    assert not opens(communicator, user, origin=b"https://one.tenant.example")
    assert not opens(communicator, user, origin=b"https://tenant.example.evil:8443")


def test_behind_a_tls_proxy_the_scheme_comes_from_its_header(communicator, user, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]

    assert opens(communicator, user, headers=proxied, origin=b"https://testserver")
    assert not opens(communicator, user, headers=proxied, origin=b"http://testserver")
    # Without the header the proxy's plain connection is what counts.
    assert opens(communicator, user, origin=b"http://testserver")


def test_an_api_client_without_origin_still_needs_only_its_ticket(communicator):
    issued = issue_ticket(UserFactory())

    accepted, message = first_message(
        communicator, f"?ticket={issued['ticket']}", origin=None, host=b"localhost:8000"
    )

    assert accepted
    assert '"type": "snapshot"' in message["text"]
