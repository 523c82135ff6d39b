"""Who may reach what: every id-taking endpoint, page and file URL × owner, stranger, anonymous,
plus the staff-only consoles for a regular user, plus the progress websocket.

The matrix is checked against the URL resolver, so a new route with a `<uuid:...>` converter (or
a new method on an existing one) fails `test_the_matrix_covers_every_id_route` until it is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from accounts.models import ApiKey
from audit.services import SYSTEM
from integrations.models import Webhook, WebhookDelivery
from media_analysis.choices import AnalysisStatus, Prediction, RunStatus, Verdict
from media_analysis.consumers import CloseCode
from media_analysis.events import ProgressEvent, event_publish
from media_analysis.models import (
    AnalysisRun,
    DeepfakeAnalysis,
    LinkImport,
    LinkImportStatus,
    Media,
    ShareLink,
)
from tests.factories import (
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    UserFactory,
    video_result_payload,
)
from tests.fixtures.pipeline import stored_media
from tests.security.conftest import stored_files, uuid_routes
from tests.websocket.conftest import NOTHING_TIMEOUT, RECEIVE_TIMEOUT

pytestmark = pytest.mark.django_db
HTTP_METHODS = ["get", "post", "put", "patch", "delete"]


@dataclass(frozen=True)
class Endpoint:
    route: str  # the resolver's template, e.g. "/api/v1/media/<uuid:media_id>"
    method: str
    owner_status: int  # what the owner gets (a redirect after a page's POST is its success)
    data: dict = field(default_factory=dict)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("/api/")

    def url(self, world: World) -> str:
        return (
            self.route.replace("<uuid:media_id>", str(world.media.pk))
            .replace("<uuid:run_id>", str(world.run.pk))
            .replace("<uuid:analysis_id>", str(world.analysis.pk))
            .replace("<uuid:key_id>", str(world.api_key.pk))
            .replace("<uuid:import_id>", str(world.link_import.pk))
            .replace("<uuid:link_id>", str(world.share_link.pk))
            .replace("<uuid:webhook_id>", str(world.webhook.pk))
        )

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.route}"


ENDPOINTS = [
    Endpoint("/api/v1/media/<uuid:media_id>", "get", 200),
    Endpoint("/api/v1/media/<uuid:media_id>", "patch", 200, {"description": "changed"}),
    Endpoint("/api/v1/media/<uuid:media_id>", "delete", 200),
    Endpoint("/api/v1/media/<uuid:media_id>/analyze", "post", 202),
    Endpoint("/api/v1/media/<uuid:media_id>/file", "get", 200),
    Endpoint("/api/v1/media/<uuid:media_id>/thumbnail", "get", 200),
    Endpoint("/api/v1/pdf/report/run/<uuid:run_id>", "get", 200),
    Endpoint("/media/<uuid:media_id>/", "get", 200),
    Endpoint("/media/<uuid:media_id>/analyze/", "post", 302),
    Endpoint("/media/<uuid:media_id>/edit/", "get", 200),
    Endpoint("/media/<uuid:media_id>/edit/", "post", 302, {"description": "changed"}),
    Endpoint("/media/<uuid:media_id>/delete/", "get", 200),
    Endpoint("/media/<uuid:media_id>/delete/", "post", 302, {"confirmed": "yes"}),
    Endpoint("/runs/<uuid:run_id>/", "get", 200),
    Endpoint("/analyses/<uuid:analysis_id>/", "get", 200),
    # Share links of a run.
    Endpoint("/api/v1/runs/<uuid:run_id>/share-links", "get", 200),
    Endpoint("/api/v1/runs/<uuid:run_id>/share-links", "post", 201, {"expiresInDays": 7}),
    Endpoint("/api/v1/share-links/<uuid:link_id>", "delete", 204),
    Endpoint("/runs/<uuid:run_id>/share-links/", "post", 200, {"expires_in_days": "7"}),
    Endpoint("/share-links/<uuid:link_id>/revoke/", "post", 302),
    # Link imports.
    Endpoint("/api/v1/media/imports/<uuid:import_id>", "get", 200),
    Endpoint("/imports/<uuid:import_id>/", "get", 200),
    # API keys.
    Endpoint("/api/v1/auth/api-keys/<uuid:key_id>", "delete", 204),
    Endpoint("/accounts/profile/api-keys/<uuid:key_id>/revoke/", "post", 200),
    Endpoint("/accounts/profile/api-keys/<uuid:key_id>/revoke/", "post", 302, {"confirmed": "yes"}),
    # Webhooks.
    Endpoint("/api/v1/webhooks/<uuid:webhook_id>", "get", 200),
    Endpoint("/api/v1/webhooks/<uuid:webhook_id>", "patch", 200, {"description": "changed"}),
    Endpoint("/api/v1/webhooks/<uuid:webhook_id>", "delete", 200),
    Endpoint("/api/v1/webhooks/<uuid:webhook_id>/deliveries", "get", 200),
    Endpoint("/api/v1/webhooks/<uuid:webhook_id>/test", "post", 202),
    Endpoint("/integrations/webhooks/<uuid:webhook_id>/", "get", 200),
    Endpoint("/integrations/webhooks/<uuid:webhook_id>/toggle/", "post", 302, {"active": "no"}),
    Endpoint("/integrations/webhooks/<uuid:webhook_id>/test/", "post", 302),
    Endpoint("/integrations/webhooks/<uuid:webhook_id>/delete/", "post", 200),
    Endpoint("/integrations/webhooks/<uuid:webhook_id>/delete/", "post", 302, {"confirmed": "yes"}),
]


@dataclass
class World:
    owner: object
    stranger: object
    media: Media
    run: AnalysisRun
    analysis: DeepfakeAnalysis
    api_key: ApiKey
    link_import: LinkImport
    share_link: ShareLink
    webhook: Webhook

    def state(self) -> tuple:
        """Everything a stranger's request could change."""
        media = Media.objects.filter(pk=self.media.pk).values_list("description", "status").first()
        return (
            media,
            list(AnalysisRun.objects.order_by("run_number").values_list("id", "status")),
            DeepfakeAnalysis.objects.count(),
            stored_files(django_settings.MEDIA_ROOT),
            list(ApiKey.objects.values_list("id", "revoked_at")),
            list(ShareLink.objects.values_list("id", "revoked_at")),
            list(Webhook.objects.values_list("id", "url", "description", "is_active")),
            WebhookDelivery.objects.count(),
            LinkImport.objects.count(),
        )


@pytest.fixture
def world(db) -> World:
    """User A owns a media item with a thumbnail and one finished run; user B owns nothing."""
    owner, stranger = UserFactory(), UserFactory()
    media = stored_media(owner=owner, original_filename="a-secret.mp4")
    media.thumbnail.save(f"thumbnails/{media.pk}.jpg", _jpeg_bytes(), save=False)
    run = AnalysisRunFactory(
        media=media,
        run_number=1,
        status=RunStatus.ANALYZED,
        verdict=Verdict.FAKE,
        fake_score=0.8,
        agreement=1.0,
    )
    analysis = DeepfakeAnalysisFactory(
        run=run,
        model_name="SIGLIP-LSTM-V4",
        status=AnalysisStatus.COMPLETED,
        prediction=Prediction.FAKE,
        confidence=0.8,
        result_payload=video_result_payload(frames=10),
    )
    media.latest_run = run
    media.status = run.status
    media.save()
    api_key, _secret = api_key_create(owner=owner, name="newsroom bot", audit=SYSTEM)
    link_import = LinkImport.objects.create(
        owner=owner, url="https://example.com/a-secret.mp4", status=LinkImportStatus.FAILED
    )
    share_link = ShareLink.objects.create(
        run=run,
        created_by=owner,
        token_hash="0" * 64,
        expires_at=timezone.now() + timedelta(days=1),
    )
    webhook = Webhook.objects.create(
        owner=owner, url="https://hooks.example.com/a-secret", secret="whsec_matrix"
    )
    return World(owner, stranger, media, run, analysis, api_key, link_import, share_link, webhook)


def _jpeg_bytes() -> ContentFile:
    return ContentFile(b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9")


def _client(endpoint: Endpoint, user) -> Client | APIClient:
    client = APIClient() if endpoint.is_api else Client()
    if user is not None:
        client.force_login(user)
    return client


def _call(endpoint: Endpoint, client, url: str):
    if endpoint.is_api:
        return getattr(client, endpoint.method)(url, endpoint.data, format="json")
    return getattr(client, endpoint.method)(url, endpoint.data)


# --- the matrix covers everything ----------------------------------------------------------------


def test_the_matrix_covers_every_id_route(world):
    """Every `<uuid>` route, and every method it answers (not 405), has a row in the matrix."""
    covered = {(endpoint.route, endpoint.method) for endpoint in ENDPOINTS}
    routes = uuid_routes()
    assert {route for route, _ in covered} == set(routes)

    answered = set()
    for route in routes:
        probe = Endpoint(route, "get", 0)
        client = _client(probe, world.stranger)  # a stranger can change nothing, whatever it is
        for method in HTTP_METHODS:
            response = getattr(client, method)(probe.url(world))
            if response.status_code != 405:
                answered.add((route, method))
    assert answered == covered


# --- A, B and nobody -----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_the_owner_is_served(endpoint, world, fake_inference):
    response = _call(endpoint, _client(endpoint, world.owner), endpoint.url(world))

    assert response.status_code == endpoint.owner_status, response.content[:500]
    if endpoint.is_api and response.get("Content-Type", "").startswith("application/json"):
        assert response.json()["success"] is True


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_stranger_gets_404_and_changes_nothing(endpoint, world, fake_inference):
    before = world.state()

    response = _call(endpoint, _client(endpoint, world.stranger), endpoint.url(world))

    assert response.status_code == 404, (str(endpoint), response.status_code)
    if endpoint.is_api:
        body = response.json()
        assert body["success"] is False and body["statusCode"] == 404
    else:
        assert response["Content-Type"].startswith("text/html")
    assert "a-secret" not in response.content.decode(errors="replace")
    assert world.state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_callers_are_challenged_and_change_nothing(endpoint, world, fake_inference):
    before = world.state()
    url = endpoint.url(world)

    response = _call(endpoint, _client(endpoint, None), url)

    if endpoint.is_api:
        assert response.status_code == 401, (str(endpoint), response.status_code)
        assert response.json()["success"] is False
    else:
        assert response.status_code == 302, (str(endpoint), response.status_code)
        location = urlsplit(response["Location"])
        assert location.path == reverse(django_settings.LOGIN_URL)
        assert parse_qs(location.query)["next"] == [url]
    assert world.state() == before


@pytest.mark.parametrize("who", ["owner", "stranger", "anonymous"])
def test_stored_files_are_never_served_directly(who, world):
    """Files reach their owner only through the checked API; MEDIA_URL is not a public folder."""
    user = {"owner": world.owner, "stranger": world.stranger, "anonymous": None}[who]
    client = Client()
    if user is not None:
        client.force_login(user)

    for name in (world.media.file.name, world.media.thumbnail.name):
        response = client.get(f"{django_settings.MEDIA_URL}{name}")
        assert response.status_code == 404, (name, response.status_code)
        assert not getattr(response, "streaming", False)
        assert b"not really a video" not in response.content


# --- staff-only consoles -------------------------------------------------------------------------


def _monitoring_api_routes() -> list[str]:
    resolver = get_resolver()
    prefix = "/api/v1/monitoring/"
    monitoring = next(
        p
        for p in resolver.url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == prefix.lstrip("/")
    )
    return [prefix + str(pattern.pattern) for pattern in monitoring.url_patterns]


MONITORING_API = _monitoring_api_routes()
STAFF_PAGES = ["/monitoring/", "/monitoring/check-stuck-runs/"]


def test_the_monitoring_api_routes_are_found():
    assert "/api/v1/monitoring/fix-statuses" in MONITORING_API
    assert len(MONITORING_API) >= 7


@pytest.mark.parametrize("route", MONITORING_API)
def test_a_regular_user_gets_403_from_the_monitoring_api_and_changes_nothing(route, world):
    client = APIClient()
    client.force_authenticate(world.owner)
    before = world.state()

    statuses = {}
    for method in ("get", "post"):
        response = getattr(client, method)(route, {}, format="json")
        statuses[method] = response.status_code
        if response.status_code != 405:
            assert response.status_code == 403, (method, route, response.status_code)
            assert response.json()["success"] is False
    assert 403 in statuses.values()
    assert world.state() == before


@pytest.mark.parametrize("route", MONITORING_API)
def test_anonymous_callers_get_401_from_the_monitoring_api(route, world):
    responses = [getattr(APIClient(), method)(route) for method in ("get", "post")]

    assert 401 in {r.status_code for r in responses}
    assert {r.status_code for r in responses} <= {401, 405}


@pytest.mark.parametrize("path", STAFF_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_regular_user_gets_403_from_the_staff_pages(path, method, world):
    client = Client()
    client.force_login(world.owner)
    before = world.state()

    response = getattr(client, method)(path)

    assert response.status_code in {403, 405}, response.status_code
    if response.status_code == 403:
        assert response["Content-Type"].startswith("text/html")
    assert world.state() == before


def _admin_paths(world: World) -> list[str]:
    return [
        "/admin/",
        f"/admin/media_analysis/media/{world.media.pk}/change/",
        f"/admin/media_analysis/media/{world.media.pk}/delete/",
        f"/admin/accounts/user/{world.owner.pk}/change/",
        "/admin/accounts/user/",
    ]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_regular_user_gets_403_from_the_admin(method, world):
    client = Client()
    client.force_login(world.owner)
    before = world.state()

    for path in _admin_paths(world):
        response = getattr(client, method)(path, {"post": "yes", "description": "admin'd"})
        assert response.status_code == 403, (path, response.status_code)
        assert response["Content-Type"].startswith("text/html")
    world.owner.refresh_from_db()
    assert not world.owner.is_staff
    assert world.state() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_the_admin_login(method, world):
    client = Client()
    before = world.state()

    for path in _admin_paths(world):
        response = getattr(client, method)(path, {"post": "yes", "description": "admin'd"})
        assert response.status_code == 302, (path, response.status_code)
        assert urlsplit(response["Location"]).path == reverse("admin:login")
    assert world.state() == before


def test_staff_reach_the_admin_that_regular_users_cannot(world, staff_user):
    """The refusals above are about the user, not a broken admin."""
    client = Client()
    client.force_login(staff_user)

    assert client.get("/admin/").status_code == 200
    assert client.get(f"/admin/media_analysis/media/{world.media.pk}/change/").status_code == 200


# --- the progress websocket ----------------------------------------------------------------------


def _started(run) -> None:
    event_publish(
        event=ProgressEvent.ANALYSIS_STARTED,
        user_id=run.media.owner_id,
        media_id=run.media_id,
        run_id=run.pk,
        model_name="SIGLIP-LSTM-V4",
    )


@pytest.mark.django_db(transaction=True)
def test_a_stranger_narrowing_to_someone_elses_media_is_refused(communicator, world):
    active = AnalysisRunFactory(media=world.media, run_number=2, status=RunStatus.PROCESSING)
    client = communicator(f"?media={world.media.pk}", user=world.stranger)

    async def scenario():
        connected, _ = await client.connect(RECEIVE_TIMEOUT)
        _started(active)
        messages = []
        while not messages or messages[-1]["type"] != "websocket.close":
            try:
                messages.append(await client.receive_output(RECEIVE_TIMEOUT))
            except TimeoutError:
                break
        await client.disconnect()
        return connected, messages

    connected, messages = async_to_sync(scenario)()

    leaked = [m for m in messages if str(world.media.pk) in (m.get("text") or "")]
    assert leaked == []
    assert messages and messages[-1] == {
        "type": "websocket.close",
        "code": CloseCode.MEDIA_NOT_FOUND,
    }


@pytest.mark.django_db(transaction=True)
def test_a_strangers_stream_carries_nothing_of_someone_elses(communicator, world):
    active = AnalysisRunFactory(media=world.media, run_number=2, status=RunStatus.PROCESSING)
    watcher = communicator(user=world.stranger)
    owner = communicator(user=world.owner)

    async def scenario():
        await watcher.connect(RECEIVE_TIMEOUT)
        await owner.connect(RECEIVE_TIMEOUT)
        stranger_snapshot = await watcher.receive_json_from(RECEIVE_TIMEOUT)
        owner_snapshot = await owner.receive_json_from(RECEIVE_TIMEOUT)
        await watcher.send_json_to({"action": "subscribe", "mediaId": str(world.media.pk)})
        refused = await watcher.receive_json_from(RECEIVE_TIMEOUT)
        _started(active)
        owner_event = await owner.receive_json_from(RECEIVE_TIMEOUT)
        quiet = await watcher.receive_nothing(NOTHING_TIMEOUT)
        await watcher.disconnect()
        await owner.disconnect()
        return stranger_snapshot, owner_snapshot, refused, owner_event, quiet

    stranger_snapshot, owner_snapshot, refused, owner_event, quiet = async_to_sync(scenario)()

    assert stranger_snapshot["runs"] == []
    assert [run["id"] for run in owner_snapshot["runs"]] == [str(active.pk)]
    assert refused["type"] == "error" and refused["code"] == "media_not_found"
    assert owner_event["runId"] == str(active.pk)
    assert quiet


# --- every API route, any method -----------------------------------------------------------------


def _api_routes() -> list[str]:
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("/api/"):
                found.append(route)

    walk(get_resolver().url_patterns, "/")
    return found


@pytest.mark.parametrize("route", _api_routes())
@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "PUT", "TRACE"])
def test_unusual_methods_on_every_api_route_are_never_a_server_error(route, method, world):
    client = APIClient()
    client.force_authenticate(world.owner)
    url = route.replace("<uuid:media_id>", str(world.media.pk)).replace(
        "<uuid:run_id>", str(world.run.pk)
    )
    before = world.state()

    response = client.generic(method, url)

    assert response.status_code < 500, (method, url, response.status_code, response.content[:300])
    assert world.state() == before
