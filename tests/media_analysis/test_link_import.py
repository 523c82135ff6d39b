"""Analyse a link: URLs fetched from a real local HTTP server, refusals of unsafe addresses, the API
and the page form."""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from drishtiksha.url_safety import UnsafeUrl, safe_session, url_check
from media_analysis.choices import RunStatus
from media_analysis.models import AnalysisRun, LinkImport, LinkImportStatus, Media
from media_analysis.services.links import link_import_fetch
from tests.factories import UserFactory
from tests.fixtures.pipeline import wait_for

# Every test on the database, the address checks too: run after database-less tests, the real
# worker's test left connections open that the test database's teardown then ran into.
pytestmark = pytest.mark.django_db
LOOPBACK = ["127.0.0.0/8"]


class _Routes(BaseHTTPRequestHandler):
    """Answers from `server.routes`: path -> (status, headers, body)."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        status, headers, body = self.server.routes.get(
            self.path, (404, {"Content-Type": "text/plain"}, b"not here")
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        # The client may stop reading, as it should for an oversize body.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class LocalServer:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Routes)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        self.port = self.httpd.server_port

    def serve(self, path: str, body: bytes, *, status: int = 200, **headers: str) -> str:
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        self.httpd.routes[path] = (status, headers, body)
        return self.base + path

    def redirect(self, path: str, location: str, *, status: int = 302) -> str:
        return self.serve(path, b"", status=status, Location=location)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    thread = threading.Thread(target=local.httpd.serve_forever, daemon=True)
    thread.start()
    yield local
    local.httpd.shutdown()
    local.httpd.server_close()


@pytest.fixture
def allow_loopback(settings):
    settings.URL_FETCH_ALLOWED_NETWORKS = LOOPBACK
    return settings


@pytest.fixture
def owner(db):
    return UserFactory()


def _import(owner, url: str) -> LinkImport:
    return LinkImport.objects.create(owner=owner, url=url)


def _fetched(owner, url: str) -> LinkImport:
    link_import = _import(owner, url)
    link_import_fetch(link_import_id=link_import.pk)
    link_import.refresh_from_db()
    return link_import


def _leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


# --- url_check ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/clip.mp4",
        "http://172.16.0.1/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[2002:0a00:0001::1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://2130706433/",
        "http://localhost/",
    ],
)
def test_url_check_refuses_addresses_that_are_not_public(settings, url):
    settings.URL_FETCH_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeUrl, match="private or reserved"):
        url_check(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.215.14/clip.mp4", "Only http:// or https://"),
        ("file:///etc/passwd", "Only http:// or https://"),
        ("gopher://93.184.215.14/", "Only http:// or https://"),
        ("http:///clip.mp4", "no host name"),
        ("http://user:secret@93.184.215.14/", "user name or password"),
        ("http://93.184.215.14:6379/", "Port 6379"),
        ("http://93.184.215.14:99999/", "not a valid URL"),
        ("http://no-such-host.invalid/clip.mp4", "could not be found"),
    ],
)
def test_url_check_refuses_wrong_shapes(url, reason):
    with pytest.raises(UnsafeUrl, match=reason):
        url_check(url)


def test_url_check_accepts_public_addresses_on_allowed_ports():
    url_check("http://93.184.215.14/clip.mp4")
    url_check("https://93.184.215.14:8443/clip.mp4")
    url_check("https://[2606:4700:4700::1111]/")


def test_url_check_accepts_allowed_networks_on_any_port(settings):
    settings.URL_FETCH_ALLOWED_NETWORKS = LOOPBACK
    url_check("http://127.0.0.1:6379/clip.mp4")
    with pytest.raises(UnsafeUrl):
        url_check("http://10.0.0.1/")


def test_url_check_limits_schemes_to_those_asked_for():
    with pytest.raises(UnsafeUrl, match="Only https://"):
        url_check("http://93.184.215.14/", schemes=("https",))


# --- safe_session ---------------------------------------------------------------------------------


def test_safe_session_refuses_to_connect_where_dns_answers_a_private_address(settings, server):
    url = server.serve("/clip.mp4", b"data", Content_Type="video/mp4")
    settings.URL_FETCH_ALLOWED_NETWORKS = []
    with safe_session() as session, pytest.raises(UnsafeUrl, match="private or reserved"):
        session.get(url.replace("127.0.0.1", "localhost"), timeout=5)


def test_safe_session_connects_to_the_checked_address(allow_loopback, server):
    url = server.serve("/hello", b"hello", Content_Type="text/plain")
    with safe_session() as session:
        response = session.get(url.replace("127.0.0.1", "localhost"), timeout=5)
    assert response.text == "hello"


def test_safe_session_ignores_proxies_from_the_environment(allow_loopback, server, monkeypatch):
    # A proxy that does not exist: a session that used it would fail to connect.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    url = server.serve("/hello", b"hello", Content_Type="text/plain")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)  # an ordinary session goes through it
    with safe_session() as session:
        assert session.get(url, timeout=5).text == "hello"


# --- Fetching -------------------------------------------------------------------------------------


def test_served_video_becomes_media_with_its_source_url_and_a_run(
    allow_loopback, server, owner, media_file, upload_temp_dir
):
    clip = media_file("clip.mp4").read_bytes()
    url = server.serve("/files/clip.mp4", clip, Content_Type="video/mp4")

    link_import = _fetched(owner, url)

    assert link_import.status == LinkImportStatus.DONE, link_import.error_message
    assert link_import.bytes_received == len(clip)
    media = link_import.media
    assert media.source_url == url
    assert media.original_filename == "clip.mp4"
    assert media.size == len(clip)
    assert media.owner == owner
    assert AnalysisRun.objects.filter(media=media, run_number=1).exists()
    uploaded = AuditEvent.objects.get(action=AuditAction.MEDIA_UPLOADED, target_id=str(media.pk))
    assert uploaded.details["source_url"] == url
    assert _leftovers(upload_temp_dir) == []


def test_served_image_without_a_length_header_becomes_media(
    allow_loopback, server, owner, media_file
):
    image = media_file("photo.png").read_bytes()
    url = server.serve("/photo.png", image, Content_Type="image/png")

    link_import = _fetched(owner, url)

    assert link_import.status == LinkImportStatus.DONE, link_import.error_message
    assert link_import.media.media_type == "IMAGE"
    assert link_import.media.source_url == url


def test_filename_comes_from_content_disposition(allow_loopback, server, owner, media_file):
    clip = media_file("clip.mp4").read_bytes()
    url = server.serve(
        "/download?id=7",
        clip,
        Content_Type="application/octet-stream",
        Content_Disposition='attachment; filename="../interview.mp4"',
    )
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.DONE, link_import.error_message
    assert link_import.media.original_filename == "interview.mp4"


def test_a_path_without_extension_is_checked_as_its_declared_type(
    allow_loopback, server, owner, media_file
):
    clip = media_file("clip.mp4").read_bytes()
    url = server.serve("/watch/video", clip, Content_Type="video/mp4")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.DONE, link_import.error_message
    assert link_import.media.original_filename == "video.mp4"


def test_redirects_within_allowed_addresses_are_followed(allow_loopback, server, owner, media_file):
    clip = media_file("clip.mp4").read_bytes()
    target = server.serve("/real/clip.mp4", clip, Content_Type="video/mp4")
    url = server.redirect("/short", "/real/clip.mp4")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.DONE, link_import.error_message
    # The media remembers the link as submitted, not where it led.
    assert link_import.media.source_url == url != target


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/clip.mp4",
        "http://[::1]/clip.mp4",
        "http://[::ffff:192.168.0.1]/clip.mp4",
    ],
)
def test_redirect_to_a_private_address_is_refused(
    allow_loopback, server, owner, location, upload_temp_dir
):
    url = server.redirect("/go", location)
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert "private or reserved" in link_import.error_message
    assert link_import.media is None
    assert not Media.objects.exists()
    assert _leftovers(upload_temp_dir) == []


def test_too_many_redirects_are_refused(allow_loopback, server, owner):
    allow_loopback.LINK_FETCH_MAX_REDIRECTS = 2
    url = server.redirect("/loop", "/loop")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert link_import.error_message == "The link redirected more than 2 times."


def test_loopback_link_is_refused_without_the_allow_list(settings, server, owner, media_file):
    settings.URL_FETCH_ALLOWED_NETWORKS = []
    url = server.serve("/clip.mp4", media_file("clip.mp4").read_bytes(), Content_Type="video/mp4")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert "private or reserved" in link_import.error_message


def test_oversize_body_is_refused_by_its_content_length(
    allow_loopback, server, owner, upload_temp_dir
):
    allow_loopback.MAX_UPLOAD_SIZE = 1024 * 1024
    # The header alone says too much: a fetch that read the (short) body would fail otherwise.
    url = server.serve("/big.mp4", b"x" * 100, Content_Type="video/mp4", Content_Length="5000000")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert link_import.error_message == "The file is larger than the 1 MiB upload limit."
    assert link_import.bytes_received == 0
    assert _leftovers(upload_temp_dir) == []


def test_oversize_body_without_content_length_is_refused_while_streaming(
    allow_loopback, server, owner, upload_temp_dir
):
    allow_loopback.MAX_UPLOAD_SIZE = 1024 * 1024
    url = server.serve("/stream.mp4", b"\0" * (3 * 1024 * 1024), Content_Type="video/mp4")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert link_import.error_message == "The file is larger than the 1 MiB upload limit."
    assert not Media.objects.exists()
    assert _leftovers(upload_temp_dir) == []


def test_text_served_as_mp4_is_refused_by_the_upload_sniffing(
    allow_loopback, server, owner, upload_temp_dir
):
    url = server.serve("/clip.mp4", b"just some words\n" * 50, Content_Type="video/mp4")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert "could not be read as media" in link_import.error_message
    assert not Media.objects.exists()
    assert _leftovers(upload_temp_dir) == []


def test_text_file_is_refused_like_an_upload(allow_loopback, server, owner):
    url = server.serve("/notes.txt", b"hello\n", Content_Type="text/plain")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert link_import.error_message.startswith("Files with .txt are not accepted.")


def test_web_page_without_yt_dlp_fails_with_a_clear_message(
    allow_loopback, server, owner, monkeypatch
):
    monkeypatch.setitem(sys.modules, "yt_dlp", None)  # as if the links extra were not installed
    url = server.serve("/watch", b"<html><body>video</body></html>", Content_Type="text/html")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert "web page, not a media file" in link_import.error_message
    assert "links extra" in link_import.error_message


class _YtDlpErrors:
    class DownloadError(Exception):
        pass

    class MaxDownloadsReached(Exception):
        pass


def _fake_yt_dlp(monkeypatch, *, writes: bytes | None, seen: list[dict]) -> None:
    """yt-dlp's Python API as far as the link import uses it: the extra is not installed here."""

    class YoutubeDL:
        def __init__(self, options: dict) -> None:
            self.options = options
            seen.append(options)

        def __enter__(self):
            return self

        def __exit__(self, *_exc) -> bool:
            return False

        def extract_info(self, url: str, download: bool) -> dict:
            if writes is None:
                raise _YtDlpErrors.DownloadError("ERROR: Unsupported URL: " + url)
            template = self.options["outtmpl"]
            Path(template.replace("%(id)s", "abc123").replace("%(ext)s", "mp4")).write_bytes(writes)
            return {"id": "abc123", "title": "Press briefing", "ext": "mp4"}

    module = types.ModuleType("yt_dlp")
    module.YoutubeDL = YoutubeDL
    module.utils = _YtDlpErrors
    monkeypatch.setitem(sys.modules, "yt_dlp", module)


def test_web_page_with_yt_dlp_ingests_the_video_it_downloads(
    allow_loopback, server, owner, media_file, monkeypatch, upload_temp_dir
):
    seen: list[dict] = []
    _fake_yt_dlp(monkeypatch, writes=media_file("clip.mp4").read_bytes(), seen=seen)
    url = server.serve("/watch?v=abc123", b"<html></html>", Content_Type="text/html")

    link_import = _fetched(owner, url)

    assert link_import.status == LinkImportStatus.DONE, link_import.error_message
    assert link_import.media.original_filename == "Press briefing.mp4"
    assert link_import.media.source_url == url
    assert seen[0]["max_filesize"] == allow_loopback.MAX_UPLOAD_SIZE
    assert seen[0]["noplaylist"] is True
    assert _leftovers(upload_temp_dir) == []


def test_web_page_yt_dlp_cannot_read_fails_with_its_reason(
    allow_loopback, server, owner, monkeypatch
):
    _fake_yt_dlp(monkeypatch, writes=None, seen=[])
    url = server.serve("/article", b"<html></html>", Content_Type="text/html; charset=utf-8")
    link_import = _fetched(owner, url)
    assert link_import.status == LinkImportStatus.FAILED
    assert link_import.error_message.startswith("This web page has no video that could be")
    assert "Unsupported URL" in link_import.error_message


def test_http_error_answer_fails_with_its_status(allow_loopback, server, owner):
    link_import = _fetched(owner, server.base + "/missing.mp4")
    assert link_import.status == LinkImportStatus.FAILED
    assert link_import.error_message.startswith("The server of the link answered 404")


def test_finished_import_is_not_fetched_again(allow_loopback, server, owner, media_file):
    url = server.serve("/clip.mp4", media_file("clip.mp4").read_bytes(), Content_Type="video/mp4")
    link_import = _fetched(owner, url)
    assert link_import_fetch(link_import_id=link_import.pk) is None
    assert Media.objects.count() == 1


# --- API ------------------------------------------------------------------------------------------


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def test_api_post_answers_202_and_queues_the_fetch(
    allow_loopback, api, owner, server, django_capture_on_commit_callbacks
):
    url = server.serve("/clip.mp4", b"", Content_Type="video/mp4")
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(
            "/api/v1/media/from-url",
            {"url": url, "description": "From the briefing", "models": ["SIGLIP-LSTM-V4"]},
            format="json",
        )
    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["url"] == url
    assert data["status"] == LinkImportStatus.QUEUED
    assert data["bytesReceived"] == 0
    assert data["errorMessage"] == ""
    assert data["mediaId"] is None
    assert {"id", "createdAt"} <= data.keys()
    link_import = LinkImport.objects.get(pk=data["id"])
    assert link_import.owner == owner
    assert link_import.requested_models == ["SIGLIP-LSTM-V4"]
    assert len(callbacks) == 1  # the task is sent once the row is committed
    event = AuditEvent.objects.get(action=AuditAction.LINK_SUBMITTED)
    assert event.target_id == str(link_import.pk)
    assert event.details["url"] == url


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "ftp://93.184.215.14/clip.mp4"}, "url", "Only http:// or https://"),
        ({"url": "file:///etc/passwd"}, "url", "Only http:// or https://"),
        ({"url": "http://169.254.169.254/latest"}, "url", "private or reserved"),
        ({"url": "http://127.0.0.1/clip.mp4"}, "url", "private or reserved"),
        ({}, "url", ""),
        ({"url": "http://93.184.215.14/a.mp4", "owner": "x"}, "owner", ""),
    ],
)
def test_api_post_refusals_answer_400_in_the_envelope(settings, api, body, field, message):
    settings.URL_FETCH_ALLOWED_NETWORKS = []
    response = api.post("/api/v1/media/from-url", body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["success"] is False
    assert payload["errors"][0]["field"] == field
    assert message in payload["errors"][0]["message"]
    assert not LinkImport.objects.exists()


def test_api_lists_and_shows_only_own_imports(api, owner):
    mine = _import(owner, "http://93.184.215.14/a.mp4")
    theirs = _import(UserFactory(), "http://93.184.215.14/b.mp4")

    listed = api.get("/api/v1/media/imports").json()["data"]
    assert [item["id"] for item in listed["results"]] == [str(mine.pk)]
    assert listed["count"] == 1

    assert api.get(f"/api/v1/media/imports/{mine.pk}").json()["data"]["id"] == str(mine.pk)
    response = api.get(f"/api/v1/media/imports/{theirs.pk}")
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_api_requires_authentication():
    response = APIClient().post(
        "/api/v1/media/from-url", {"url": "http://93.184.215.14/a.mp4"}, format="json"
    )
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_link_submitted_over_the_api_is_fetched_and_analysed_by_the_worker(
    allow_loopback, server, media_file, fake_inference, pipeline_worker
):
    client = APIClient()
    client.force_authenticate(UserFactory())
    url = server.serve("/clip.mp4", media_file("clip.mp4").read_bytes(), Content_Type="video/mp4")

    response = client.post("/api/v1/media/from-url", {"url": url}, format="json")
    assert response.status_code == 202, response.content
    import_id = response.json()["data"]["id"]

    def finished():
        data = client.get(f"/api/v1/media/imports/{import_id}").json()["data"]
        return data if data["status"] in (LinkImportStatus.DONE, LinkImportStatus.FAILED) else None

    data = wait_for(finished)
    assert data["status"] == LinkImportStatus.DONE, data["errorMessage"]
    media_id = data["mediaId"]
    wait_for(lambda: Media.objects.get(pk=media_id).status in RunStatus.final())
    media = Media.objects.get(pk=media_id)
    assert media.status == RunStatus.ANALYZED
    assert media.source_url == url


# --- Pages ----------------------------------------------------------------------------------------


@pytest.fixture
def browser(owner, settings) -> Client:
    settings.ML_SERVER_URL = "http://127.0.0.1:9"  # the upload page asks for models; none answer
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def _csrf(client: Client) -> str:
    html = client.get("/upload/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def test_upload_page_has_the_link_form(browser):
    html = browser.get("/upload/").content.decode()
    assert 'id="link-form"' in html
    assert 'action="/upload/link/"' in html
    assert 'name="url"' in html


def test_link_form_creates_an_import_and_shows_its_status_page(
    allow_loopback, browser, owner, server
):
    url = server.serve("/clip.mp4", b"", Content_Type="video/mp4")
    response = browser.post("/upload/link/", {"url": url, "csrfmiddlewaretoken": _csrf(browser)})
    link_import = LinkImport.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{link_import.pk}/"

    html = browser.get(response["Location"]).content.decode()
    assert url in html
    assert 'data-import-status="QUEUED"' in html
    assert 'http-equiv="refresh"' in html


def test_link_form_without_csrf_token_is_refused(browser):
    response = browser.post("/upload/link/", {"url": "http://93.184.215.14/a.mp4"})
    assert response.status_code == 403
    assert not LinkImport.objects.exists()


def test_link_form_refusal_returns_to_the_form_with_the_reason(settings, browser):
    settings.URL_FETCH_ALLOWED_NETWORKS = []
    bad = "http://169.254.169.254/latest"
    response = browser.post(
        "/upload/link/", {"url": bad, "csrfmiddlewaretoken": _csrf(browser)}, follow=True
    )
    html = response.content.decode()
    assert "The link was not accepted" in html
    assert "private or reserved" in html
    assert f'value="{bad}"' in html
    assert not LinkImport.objects.exists()


def test_import_page_links_to_the_media_once_done_and_stops_refreshing(
    allow_loopback, browser, owner, server, media_file
):
    url = server.serve("/clip.mp4", media_file("clip.mp4").read_bytes(), Content_Type="video/mp4")
    link_import = _fetched(owner, url)
    html = browser.get(f"/imports/{link_import.pk}/").content.decode()
    assert f'href="/media/{link_import.media_id}/"' in html
    assert 'http-equiv="refresh"' not in html


def test_import_page_shows_the_error_of_a_failed_import(browser, owner):
    link_import = LinkImport.objects.create(
        owner=owner,
        url="http://93.184.215.14/a.mp4",
        status=LinkImportStatus.FAILED,
        error_message="The file is larger than the 1 MiB upload limit.",
    )
    html = browser.get(f"/imports/{link_import.pk}/").content.decode()
    assert "The file is larger than the 1 MiB upload limit." in html


def test_someone_elses_import_page_is_404(browser):
    theirs = _import(UserFactory(), "http://93.184.215.14/b.mp4")
    assert browser.get(f"/imports/{theirs.pk}/").status_code == 404


# --- Admin ----------------------------------------------------------------------------------------


def test_admin_lists_imports_read_only(staff_client, owner):
    link_import = _import(owner, "http://93.184.215.14/listed.mp4")
    listing = staff_client.get("/admin/media_analysis/linkimport/")
    assert listing.status_code == 200
    assert "http://93.184.215.14/listed.mp4" in listing.content.decode()
    assert staff_client.get("/admin/media_analysis/linkimport/add/").status_code == 403
    change = staff_client.post(
        f"/admin/media_analysis/linkimport/{link_import.pk}/change/", {"url": "http://x/"}
    )
    assert change.status_code == 403
    link_import.refresh_from_db()
    assert link_import.url == "http://93.184.215.14/listed.mp4"
