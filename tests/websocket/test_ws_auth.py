"""Who may open the progress websocket: sessions, one-time tickets, and only this site's pages."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from media_analysis.consumers import CloseCode
from tests.factories import UserFactory
from tests.websocket.conftest import RECEIVE_TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

TICKET_URL = "/api/v1/auth/ws-ticket"


@pytest.fixture(autouse=True)
def _own_cache(isolated_cache):
    """Tickets live in the cache; each test gets a namespace of its own."""


def issue_ticket(user) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(TICKET_URL)
    assert response.status_code == 201, response.content
    return response.json()["data"]


def first_message(client_factory, query: str = "", **options) -> tuple[bool, dict]:
    """Connect and return (accepted, first message: the snapshot or the close)."""

    client = client_factory(query, **options)

    async def scenario():
        connected, code = await client.connect(RECEIVE_TIMEOUT)
        if not connected:
            # Let the refusing application finish rather than leave it pending on the loop.
            await client.disconnect()
            return False, {"type": "websocket.close", "code": code}
        message = await client.receive_output(RECEIVE_TIMEOUT)
        await client.disconnect()
        return True, message

    return async_to_sync(scenario)()


def test_a_logged_in_browser_is_let_in_with_its_session(communicator):
    accepted, message = first_message(communicator, user=UserFactory())

    assert accepted
    assert message["type"] == "websocket.send"
    assert '"type": "snapshot"' in message["text"]


def test_anonymous_visitors_are_closed_with_4401(communicator):
    accepted, message = first_message(communicator)

    assert accepted
    assert message == {"type": "websocket.close", "code": CloseCode.UNAUTHENTICATED}


def test_a_foreign_origin_is_refused_during_the_handshake(communicator):
    user = UserFactory()

    refused, message = first_message(communicator, user=user, origin=b"http://evil.example")
    allowed, _ = first_message(communicator, user=user, origin=b"http://testserver")

    assert not refused
    assert message["type"] == "websocket.close"
    assert allowed


def test_an_api_client_sending_no_origin_is_let_in_with_a_ticket(communicator):
    issued = issue_ticket(UserFactory())

    accepted, message = first_message(communicator, f"?ticket={issued['ticket']}", origin=None)

    assert accepted
    assert '"type": "snapshot"' in message["text"]


def test_no_origin_and_no_ticket_is_refused_even_with_a_session(communicator):
    accepted, message = first_message(communicator, user=UserFactory(), origin=None)

    assert not accepted
    assert message["type"] == "websocket.close"


def test_a_ticket_does_not_excuse_a_foreign_origin(communicator):
    issued = issue_ticket(UserFactory())

    accepted, message = first_message(
        communicator, f"?ticket={issued['ticket']}", origin=b"http://evil.example"
    )

    assert not accepted
    assert message["type"] == "websocket.close"


def test_the_ticket_endpoint_needs_a_logged_in_caller():
    response = APIClient().post(TICKET_URL)

    assert response.status_code == 401
    assert response.json()["success"] is False


def test_a_ticket_lets_an_api_client_in_once(communicator):
    user = UserFactory()
    issued = issue_ticket(user)

    first, snapshot = first_message(communicator, f"?ticket={issued['ticket']}")
    second, refused = first_message(communicator, f"?ticket={issued['ticket']}")

    assert issued["expiresIn"] == 60
    assert issued["url"] == f"/ws/progress/?ticket={issued['ticket']}"
    assert first and '"type": "snapshot"' in snapshot["text"]
    assert second
    assert refused == {"type": "websocket.close", "code": CloseCode.UNAUTHENTICATED}


def test_an_unused_ticket_expires(communicator, settings):
    settings.WS_TICKET_TTL_SECONDS = 1
    issued = issue_ticket(UserFactory())

    time.sleep(1.5)
    accepted, message = first_message(communicator, f"?ticket={issued['ticket']}")

    assert accepted
    assert message == {"type": "websocket.close", "code": CloseCode.UNAUTHENTICATED}


def test_made_up_tickets_are_refused(communicator):
    accepted, message = first_message(communicator, "?ticket=not-a-ticket")

    assert accepted
    assert message == {"type": "websocket.close", "code": CloseCode.UNAUTHENTICATED}


def test_a_ticket_of_a_deactivated_account_is_closed_with_4403(communicator):
    user = UserFactory()
    issued = issue_ticket(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    accepted, message = first_message(communicator, f"?ticket={issued['ticket']}")

    assert accepted
    assert message == {"type": "websocket.close", "code": CloseCode.FORBIDDEN}
