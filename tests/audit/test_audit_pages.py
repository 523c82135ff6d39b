"""Reading the audit trail: the owner's /activity/ page, GET /api/v1/audit and the admin."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent, AuditVia
from audit.services import SYSTEM, AuditContext, audit_record
from media_analysis.services.media import media_delete
from tests.factories import AdminUserFactory, UserFactory
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db

ACTIVITY = "/activity/"
API = "/api/v1/audit"


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def owner_api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _event(owner, action=AuditAction.MEDIA_UPLOADED, *, context=SYSTEM, at=None, **target):
    event = audit_record(action=action, owner_id=owner.pk, context=context, **target)
    if at is not None:
        AuditEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def _as(user, via=AuditVia.WEB, credential=""):
    return AuditContext(actor=user, via=via, credential_label=credential)


def _rows(html: str) -> int:
    return html.count("<tr>") - 1  # the header row


# --- The activity page ----------------------------------------------------------------------------


def test_the_page_needs_a_login():
    response = Client().get(ACTIVITY)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_page_lists_only_the_owners_rows_newest_first_saying_who_and_how(owner, browser):
    someone = UserFactory(email="someone@example.com")
    staff = AdminUserFactory(email="ops@example.com")
    now = timezone.now()
    _event(owner, context=_as(owner), at=now - timedelta(hours=3), target_label="first.mp4")
    _event(
        owner,
        AuditAction.SHARE_LINK_VIEWED,
        context=AuditContext(via=AuditVia.SHARE_LINK, credential_label="For the editor"),
        at=now - timedelta(hours=2),
        target_label="Editor link",
    )
    _event(owner, AuditAction.RUN_FINISHED, at=now - timedelta(hours=1), target_label="run two")
    _event(
        owner,
        AuditAction.MEDIA_DELETED,
        context=_as(staff, AuditVia.API_KEY, "ci-key"),
        at=now,
        target_label="by staff",
    )
    _event(someone, context=_as(someone), target_label="not-yours.mp4")

    html = browser.get(ACTIVITY).content.decode()

    assert "not-yours.mp4" not in html and "someone@example.com" not in html
    assert _rows(html) == 4
    order = [html.index(label) for label in ("by staff", "run two", "Editor link", "first.mp4")]
    assert order == sorted(order)
    assert "ops@example.com" in html and "ci-key" in html and "API key" in html
    assert "Shared link reader" in html and "For the editor" in html
    assert "Drishtiksha" in html and "Run finished" in html
    assert ">You<" in html and "Web pages" in html
    iso = AuditEvent.objects.get(target_label="first.mp4").created_at.isoformat()
    assert f'title="{iso}"' in html or f'title="{iso[:19]}' in html


def test_a_target_is_linked_while_it_exists_and_is_the_owners(owner, browser):
    kept = stored_media(owner=owner, original_filename="kept.mp4")
    gone = stored_media(owner=owner, original_filename="gone.mp4")
    _event(owner, context=_as(owner), target=kept)
    _event(owner, context=_as(owner), target=gone)
    media_delete(media=gone, audit=_as(owner))

    html = browser.get(ACTIVITY).content.decode()

    assert f'<a href="/media/{kept.pk}/">kept.mp4</a>' in html
    assert f'href="/media/{gone.pk}/"' not in html
    assert "Media deleted" in html and html.count("gone.mp4") == 2


def test_the_page_filters_by_action_and_date_range(owner, browser):
    day = timezone.make_aware(datetime(2026, 3, 10, 12, 0))
    _event(owner, at=day - timedelta(days=2), target_label="before.mp4")
    _event(owner, at=day, target_label="inside.mp4")
    _event(owner, AuditAction.MEDIA_DELETED, at=day, target_label="deleted.mp4")
    _event(owner, at=day + timedelta(days=2), target_label="after.mp4")

    html = browser.get(ACTIVITY, {"action": "MEDIA_UPLOADED", "since": "2026-03-09"}).content
    html = html.decode()
    assert "inside.mp4" in html and "after.mp4" in html
    assert "before.mp4" not in html and "deleted.mp4" not in html

    html = browser.get(ACTIVITY, {"since": "2026-03-10", "until": "2026-03-10"}).content.decode()
    assert _rows(html) == 2 and "inside.mp4" in html and "deleted.mp4" in html
    assert 'value="2026-03-10"' in html and "Clear filters" in html


def test_an_unreadable_filter_is_said_and_everything_shown(owner, browser):
    _event(owner, target_label="shown.mp4")

    response = browser.get(ACTIVITY, {"action": "NOT_AN_ACTION"}, follow=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Unknown action" in html and "shown.mp4" in html


def test_the_page_is_paged_at_a_constant_number_of_queries(
    owner, browser, settings, django_assert_max_num_queries
):
    settings.AUDIT_PAGE_SIZE = 5
    media = stored_media(owner=owner)
    for _ in range(3):
        _event(owner, context=_as(owner), target=media)
    with django_assert_max_num_queries(8) as few:
        browser.get(ACTIVITY)
    for _ in range(9):
        _event(owner, context=_as(owner), target=media)

    with django_assert_max_num_queries(len(few.captured_queries)):
        html = browser.get(ACTIVITY, {"page": 2}).content.decode()

    assert _rows(html) == 5 and "Page 2 of 3" in html and 'href="?page=3"' in html


def test_the_profile_page_links_to_the_activity_page(browser):
    html = browser.get("/accounts/profile/").content.decode()

    assert f'href="{ACTIVITY}"' in html


# --- GET /api/v1/audit ----------------------------------------------------------------------------


def test_the_api_lists_only_the_callers_rows_in_camel_case(owner, owner_api):
    someone = UserFactory()
    media = stored_media(owner=owner, original_filename="mine.mp4")
    mine = _event(owner, context=_as(owner, AuditVia.API), target=media, details={"size": 3})
    _event(someone, context=_as(someone), target_label="theirs.mp4")

    response = owner_api.get(API)

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["count"], data["page"], data["totalPages"]) == (1, 1, 1)
    assert data["results"] == [
        {
            "id": str(mine.pk),
            "createdAt": data["results"][0]["createdAt"],
            "action": "MEDIA_UPLOADED",
            "actionLabel": "Media uploaded",
            "actorName": "You",
            "actorEmail": owner.email,
            "via": "API",
            "viaLabel": "API (token)",
            "credentialLabel": "",
            "targetType": "media",
            "targetId": str(media.pk),
            "targetLabel": "mine.mp4",
            "details": {"size": 3},
        }
    ]
    assert datetime.fromisoformat(data["results"][0]["createdAt"]) == mine.created_at


def test_the_api_filters_by_action_since_and_until(owner, owner_api):
    day = timezone.make_aware(datetime(2026, 3, 10, 12, 0))
    _event(owner, at=day - timedelta(days=1), target_label="before")
    _event(owner, at=day, target_label="inside")
    _event(owner, AuditAction.RUN_STARTED, at=day, target_label="started")

    def labels(**query):
        response = owner_api.get(API, query)
        assert response.status_code == 200, response.content
        return [row["targetLabel"] for row in response.json()["data"]["results"]]

    assert labels(action="RUN_STARTED") == ["started"]
    assert set(labels(since="2026-03-10")) == {"inside", "started"}
    assert labels(until="2026-03-09") == ["before"]
    assert labels(since=(day - timedelta(minutes=1)).isoformat(), action="MEDIA_UPLOADED") == [
        "inside"
    ]


def test_an_unreadable_filter_is_a_400_in_the_envelope(owner_api):
    response = owner_api.get(API, {"since": "last tuesday"})

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["errors"][0]["field"] == "since"


def test_the_api_needs_authentication(api_client):
    assert api_client.get(API).status_code == 401


def test_the_api_answers_any_page_size_in_a_constant_number_of_queries(
    owner, owner_api, django_assert_max_num_queries
):
    for _ in range(2):
        _event(owner, context=_as(owner))
    with django_assert_max_num_queries(4) as few:
        owner_api.get(API)
    for _ in range(30):
        _event(owner, context=_as(owner))

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = owner_api.get(API, {"pageSize": 25})

    assert len(response.json()["data"]["results"]) == 25


def test_the_schema_documents_the_audit_list(owner_api):
    response = owner_api.get("/api/schema/", {"format": "json"})

    operation = response.json()["paths"]["/api/v1/audit"]["get"]
    params = {param["name"] for param in operation["parameters"]}
    assert {"action", "since", "until", "page", "pageSize"} <= params


# --- The admin ------------------------------------------------------------------------------------


def test_staff_see_the_trail_in_the_admin_with_search_and_filters(staff_client, owner):
    _event(owner, context=_as(owner), target_label="findable.mp4")
    _event(owner, AuditAction.RUN_FINISHED, target_label="other run")
    base = "/admin/audit/auditevent/"

    listing = staff_client.get(base)
    searched = staff_client.get(base, {"q": owner.email, "action__exact": "MEDIA_UPLOADED"})

    assert listing.status_code == 200
    html = searched.content.decode()
    assert searched.status_code == 200 and "findable.mp4" in html and "other run" not in html


def test_nobody_may_add_change_or_delete_an_audit_row_in_the_admin(staff_client, staff_user, owner):
    event = _event(owner, context=_as(owner), target_label="kept.mp4")
    base = "/admin/audit/auditevent/"

    assert staff_client.get(f"{base}add/").status_code == 403
    assert staff_client.post(f"{base}{event.pk}/change/", {"target_label": "x"}).status_code == 403
    assert staff_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = staff_client.post(
        base, {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).target_label == "kept.mp4"
    # The row itself can be read.
    assert staff_client.get(f"{base}{event.pk}/change/").status_code == 200
    request = RequestFactory().get(base)
    request.user = staff_user
    model_admin = admin.site._registry[AuditEvent]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert "delete_selected" not in model_admin.get_actions(request)
