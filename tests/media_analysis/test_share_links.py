"""Share links: made by a run's owner, opened read-only by anyone holding them until they expire
or are revoked, counted and audited, over the pages and the API."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent, AuditVia
from audit.services import SYSTEM
from drishtiksha.errors import Conflict, ValidationFailed
from media_analysis.choices import AnalysisStatus, Prediction, RunStatus, Verdict
from media_analysis.models import AnalysisRun, ShareLink
from media_analysis.services.sharing import (
    share_link_create,
    share_link_resolve,
    share_link_revoke,
    share_link_view_record,
)
from tests.factories import DeepfakeAnalysisFactory, UserFactory, video_result_payload
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db
CONTENT = bytes(range(256)) * 64


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def run(user) -> AnalysisRun:
    from django.core.files.base import ContentFile

    media = stored_media(owner=user, content=CONTENT, original_filename="briefing.mp4")
    media.thumbnail.save(f"thumbnails/{media.pk}.jpg", ContentFile(_jpeg()), save=True)
    run = AnalysisRun.objects.create(
        media=media,
        run_number=2,
        status=RunStatus.ANALYZED,
        verdict=Verdict.FAKE,
        fake_score=0.8,
        agreement=1.0,
    )
    DeepfakeAnalysisFactory(
        run=run,
        model_name="MODEL-A",
        status=AnalysisStatus.COMPLETED,
        prediction=Prediction.FAKE,
        confidence=0.8,
        result_payload=video_result_payload(frames=10),
    )
    media.latest_run = run
    media.save(update_fields=["latest_run"])
    return run


def _link(run, **kwargs) -> tuple[ShareLink, str]:
    values = {"label": "Editor", "expires_in": timedelta(days=7), "audit": SYSTEM, **kwargs}
    return share_link_create(run=run, created_by=run.media.owner, **values)


# --- services -------------------------------------------------------------------------------------


def test_a_link_stores_only_the_hash_of_its_token_and_resolves_by_it(run):
    link, token = _link(run)

    stored = ShareLink.objects.get(pk=link.pk)
    assert len(token) >= 40
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {stored.token_hash, stored.label}
    assert share_link_resolve(token=token).pk == link.pk
    assert share_link_resolve(token=token + "x") is None
    assert share_link_resolve(token=stored.token_hash) is None


def test_expired_and_revoked_links_resolve_to_nothing(run):
    expired, expired_token = _link(run)
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_token = _link(run)

    share_link_revoke(link=revoked, audit=SYSTEM)

    assert share_link_resolve(token=expired_token) is None
    assert share_link_resolve(token=revoked_token) is None
    assert ShareLink.objects.get(pk=revoked.pk).revoked_at is not None


def test_lifetime_is_bounded_by_the_setting(run, settings):
    settings.SHARE_LINK_MAX_DAYS = 30

    with pytest.raises(ValidationFailed):
        _link(run, expires_in=timedelta(days=31))
    with pytest.raises(ValidationFailed):
        _link(run, expires_in=timedelta(0))
    link, _ = _link(run, expires_in=timedelta(days=30))
    assert link.expires_at > timezone.now() + timedelta(days=29)


def test_a_run_has_at_most_the_configured_number_of_active_links(run, settings):
    settings.SHARE_LINK_MAX_ACTIVE_PER_RUN = 2
    first, _ = _link(run)
    _link(run)

    with pytest.raises(Conflict):
        _link(run)
    share_link_revoke(link=first, audit=SYSTEM)
    _link(run)  # a revoked link no longer counts


def test_create_and_revoke_are_audited_in_the_owners_trail(run):
    link, _ = _link(run)
    share_link_revoke(link=link, audit=SYSTEM)
    share_link_revoke(link=link, audit=SYSTEM)  # a second revoke changes nothing

    actions = list(
        AuditEvent.objects.filter(owner=run.media.owner, target_id=str(link.pk))
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == [AuditAction.SHARE_LINK_CREATED, AuditAction.SHARE_LINK_REVOKED]


def test_views_are_all_counted_but_audited_once_per_interval(run, isolated_cache, settings):
    settings.SHARE_LINK_VIEW_AUDIT_INTERVAL_SECONDS = 3600
    link, token = _link(run)

    for _ in range(3):
        share_link_view_record(link=link, audit=SYSTEM)

    link.refresh_from_db()
    assert link.view_count == 3
    assert link.last_viewed_at is not None
    viewed = AuditEvent.objects.filter(action=AuditAction.SHARE_LINK_VIEWED, target_id=str(link.pk))
    assert viewed.count() == 1


def test_an_anonymous_view_is_audited_as_through_the_link(run, isolated_cache):
    link, token = _link(run, label="Night desk")

    Client().get(f"/share/{token}/")

    event = AuditEvent.objects.get(action=AuditAction.SHARE_LINK_VIEWED, target_id=str(link.pk))
    assert event.via == AuditVia.SHARE_LINK
    assert event.credential_label == "Night desk"
    assert event.actor is None
    assert event.owner_id == run.media.owner_id


# --- pages: what a link opens ---------------------------------------------------------------------


def test_anonymous_reader_sees_the_report_read_only(run, isolated_cache):
    _, token = _link(run)

    response = Client().get(f"/share/{token}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Run #2 of briefing.mp4" in body
    assert "Likely deepfake" in body or run.get_verdict_display() in body
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Cache-Control"] == "private, no-store"
    # No owner controls, and nothing on the page points at the owner's own URLs.
    assert 'id="share-heading"' not in body
    assert "Create share link" not in body
    assert f"/media/{run.media_id}/" not in body
    assert f"/api/v1/media/{run.media_id}" not in body
    assert "/analyses/" not in body
    assert f"/api/v1/pdf/report/run/{run.pk}" not in body
    # The page's own media and PDF go through the link.
    assert f"/share/{token}/pdf" in body
    assert f"/share/{token}/file" in body
    assert f"/share/{token}/thumbnail" in body


def test_unknown_expired_and_revoked_tokens_answer_the_same_404(run):
    expired, expired_token = _link(run)
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    revoked, revoked_token = _link(run)
    share_link_revoke(link=revoked, audit=SYSTEM)
    client = Client()

    answers = [
        client.get(f"/share/{token}/") for token in ("no-such-token", expired_token, revoked_token)
    ]

    assert [a.status_code for a in answers] == [404, 404, 404]
    bodies = {re.sub(r'nonce="[^"]*"', "", a.content.decode()) for a in answers}
    assert len(bodies) == 1
    for path in ("pdf", "file", "thumbnail"):
        assert client.get(f"/share/{revoked_token}/{path}").status_code == 404


def test_pdf_thumbnail_and_file_through_the_link(run, isolated_cache):
    link, token = _link(run)
    client = Client()

    pdf = client.get(f"/share/{token}/pdf")
    thumbnail = client.get(f"/share/{token}/thumbnail")
    original = client.get(f"/share/{token}/file", HTTP_RANGE="bytes=0-9")

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="briefing_run-2_' in pdf["Content-Disposition"]
    assert pdf["Cache-Control"] == "private, no-store"
    assert thumbnail.status_code == 200
    assert b"".join(thumbnail.streaming_content) == run.media.thumbnail.open("rb").read()
    assert original.status_code == 206
    assert b"".join(original.streaming_content) == CONTENT[:10]
    assert original["Referrer-Policy"] == "no-referrer"
    link.refresh_from_db()
    assert link.view_count == 1  # the PDF; pictures and byte ranges are not openings


# --- pages: the owner's share section -------------------------------------------------------------


def test_owner_creates_a_link_on_the_run_page_and_sees_it_once(run, user_client):
    response = user_client.post(
        f"/runs/{run.pk}/share-links/", {"label": "Legal", "expires_in_days": "1"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    match = re.search(r'value="(http://testserver/share/([A-Za-z0-9_-]+)/)"', body)
    assert match, body[:2000]
    assert response["Cache-Control"] == "private, no-store"
    link = ShareLink.objects.get(run=run)
    assert link.label == "Legal"
    assert timedelta(hours=23) < link.expires_at - timezone.now() <= timedelta(days=1)
    assert share_link_resolve(token=match.group(2)).pk == link.pk
    # Later visits list the link without its URL.
    page = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert "Legal" in page
    assert match.group(2) not in page
    assert 'data-share-status="active"' in page


def test_owner_revokes_a_link_from_the_run_page(run, user_client):
    link, token = _link(run)

    response = user_client.post(f"/share-links/{link.pk}/revoke/")

    assert response.status_code == 302
    assert share_link_resolve(token=token) is None
    page = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-share-status="revoked"' in page


def test_an_expiry_not_offered_is_refused(run, user_client):
    response = user_client.post(f"/runs/{run.pk}/share-links/", {"expires_in_days": "365"})

    assert response.status_code == 302
    assert not ShareLink.objects.exists()


def test_someone_else_can_neither_share_nor_revoke(run):
    link, token = _link(run)
    other = Client()
    other.force_login(UserFactory())

    assert other.post(f"/runs/{run.pk}/share-links/", {"expires_in_days": "7"}).status_code == 404
    assert other.post(f"/share-links/{link.pk}/revoke/").status_code == 404
    assert share_link_resolve(token=token) is not None
    assert ShareLink.objects.filter(run=run).count() == 1


def test_share_forms_need_the_csrf_token(run, user):
    link, _ = _link(run)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2
    assert client.post(f"/runs/{run.pk}/share-links/", {"expires_in_days": "7"}).status_code == 403
    assert client.post(f"/share-links/{link.pk}/revoke/").status_code == 403
    assert ShareLink.objects.filter(run=run).count() == 1


# --- API ------------------------------------------------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_creates_lists_and_revokes(run, user):
    client = _api(user)

    created = client.post(
        f"/api/v1/runs/{run.pk}/share-links",
        {"label": "Desk", "expiresInDays": 7},
        format="json",
    )

    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert data["url"] == f"http://testserver/share/{data['token']}/"
    assert data["status"] == "active"
    assert share_link_resolve(token=data["token"]).pk.hex == data["id"].replace("-", "")

    listed = client.get(f"/api/v1/runs/{run.pk}/share-links")
    assert listed.status_code == 200
    results = listed.json()["data"]["results"]
    assert [item["label"] for item in results] == ["Desk"]
    assert "token" not in results[0] and "tokenHash" not in results[0]

    deleted = client.delete(f"/api/v1/share-links/{data['id']}")
    assert deleted.status_code == 204
    assert share_link_resolve(token=data["token"]) is None
    listed = client.get(f"/api/v1/runs/{run.pk}/share-links").json()["data"]["results"]
    assert listed[0]["status"] == "revoked"


def test_api_refuses_a_lifetime_above_the_maximum(run, user, settings):
    settings.SHARE_LINK_MAX_DAYS = 30

    response = _api(user).post(
        f"/api/v1/runs/{run.pk}/share-links", {"expiresInDays": 31}, format="json"
    )

    assert response.status_code == 400
    assert not ShareLink.objects.exists()


def test_api_someone_elses_run_and_link_are_404(run):
    link, _ = _link(run)
    other = _api(UserFactory())

    assert other.get(f"/api/v1/runs/{run.pk}/share-links").status_code == 404
    assert other.post(f"/api/v1/runs/{run.pk}/share-links", {}, format="json").status_code == 404
    assert other.delete(f"/api/v1/share-links/{link.pk}").status_code == 404
    assert ShareLink.objects.get(pk=link.pk).revoked_at is None
