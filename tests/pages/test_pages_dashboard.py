"""The dashboard at `/`: counters, search, filters, sorting and pagination in the query string."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from media_analysis.choices import MediaType, RunStatus
from tests.factories import MediaFactory, UserFactory
from tests.pages.conftest import finished_run

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[str]:
    """File names of the table rows, in order."""
    return re.findall(r'<tr data-media-id="[^"]+" data-filename="([^"]+)"', html)


def links(html: str, rel: str) -> dict[str, list[str]]:
    href = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)[1].replace("&amp;", "&")
    return parse_qs(urlparse(href).query)


def test_anonymous_visitors_are_sent_to_log_in():
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_a_new_user_sees_zero_counters_and_an_invitation_to_upload(browser):
    html = browser.get("/").content.decode()

    assert "Nothing uploaded yet." in html
    assert 'href="/upload/"' in html
    assert re.search(r"<dt>Total</dt><dd>0</dd>", html)


def test_rows_show_status_verdict_and_actions_of_the_users_own_media(browser, owner, video):
    finished_run(video)
    MediaFactory(owner=owner, original_filename="queued.mp4", status=RunStatus.QUEUED)
    MediaFactory(original_filename="not-mine.mp4")

    html = browser.get("/").content.decode()

    assert sorted(rows(html)) == ["interview.mp4", "queued.mp4"]
    assert re.search(r"<dt>Total</dt><dd>2</dd>", html)
    assert re.search(r"<dt>In progress</dt><dd>1</dd>", html)
    assert re.search(r"<dt>Analyzed</dt><dd>1</dd>", html)
    assert 'class="badge badge-analyzed" data-status="ANALYZED">Analyzed</span>' in html
    assert 'Likely deepfake</span> <span class="score">fake score 72.0 %</span>' in html
    assert f'action="/media/{video.pk}/analyze/"' in html
    assert f'action="/media/{video.pk}/edit/"' in html
    assert f'action="/media/{video.pk}/delete/"' in html and "data-confirm=" in html
    # Every action form carries the CSRF token.
    assert html.count('name="csrfmiddlewaretoken"') >= 7
    assert '<dialog id="confirm-dialog"' in html


def test_media_being_analysed_cannot_be_rerun_from_its_row(browser, owner):
    MediaFactory(owner=owner, status=RunStatus.PROCESSING)

    html = browser.get("/").content.decode()

    assert re.search(r"data-rerun disabled", html)


def test_search_and_filters_narrow_the_rows(browser, owner):
    MediaFactory(owner=owner, original_filename="speech.mp4", description="campaign rally")
    MediaFactory(owner=owner, original_filename="voice.wav", media_type=MediaType.AUDIO)
    MediaFactory(owner=owner, original_filename="photo.png", media_type=MediaType.IMAGE)

    by_text = rows(browser.get("/", {"search": "RALLY"}).content.decode())
    by_type = rows(browser.get("/", {"mediaType": "AUDIO"}).content.decode())
    nothing = browser.get("/", {"mediaType": "IMAGE", "search": "speech"}).content.decode()

    assert by_text == ["speech.mp4"]
    assert by_type == ["voice.wav"]
    assert rows(nothing) == [] and "No media match these filters." in nothing


def test_verdict_filter_uses_the_latest_run(browser, owner, video):
    finished_run(video)
    MediaFactory(owner=owner, original_filename="other.mp4")

    assert rows(browser.get("/", {"verdict": "FAKE"}).content.decode()) == ["interview.mp4"]
    assert rows(browser.get("/", {"verdict": "REAL"}).content.decode()) == []


def test_sorting_by_a_column_header_flips_its_direction(browser, owner):
    for name in ("b.mp4", "a.mp4", "c.mp4"):
        MediaFactory(owner=owner, original_filename=name)

    ascending = browser.get("/", {"ordering": "filename"}).content.decode()
    header = re.search(
        r'<th scope="col" aria-sort="ascending"><a href="([^"]+)">File</a>', ascending
    )
    descending = browser.get("/" + header[1].replace("&amp;", "&")).content.decode()

    assert rows(ascending) == ["a.mp4", "b.mp4", "c.mp4"]
    assert header[1] == "?ordering=-filename"
    assert rows(descending) == ["c.mp4", "b.mp4", "a.mp4"]
    assert 'aria-sort="descending"' in descending


def test_pagination_links_keep_search_filters_sort_and_page_size(browser, owner):
    for index in range(5):
        MediaFactory(owner=owner, original_filename=f"clip-{index}.mp4", description="batch")

    html = browser.get(
        "/", {"search": "batch", "ordering": "filename", "pageSize": "2", "page": "2"}
    ).content.decode()

    assert rows(html) == ["clip-2.mp4", "clip-3.mp4"]
    assert "Page 2 of 3" in html
    expected = {"search": ["batch"], "ordering": ["filename"], "pageSize": ["2"]}
    assert links(html, "next") == {**expected, "page": ["3"]}
    assert links(html, "prev") == {**expected, "page": ["1"]}
    # The filter form shows the state it came from, so submitting it again keeps it.
    assert 'name="search" value="batch"' in html
    assert '<option value="filename" selected>' in html
    assert '<option value="2" selected>' in html
    # Row actions come back to exactly this page.
    assert (
        'name="next" value="/?search=batch&amp;ordering=filename&amp;pageSize=2&amp;page=2"' in html
    )


def test_page_size_is_capped_and_bad_pages_fall_back(browser, owner, settings):
    for _ in range(3):
        MediaFactory(owner=owner)
    settings.DASHBOARD_PAGE_SIZE_CHOICES = [1, 2]

    capped = browser.get("/", {"pageSize": "100000"}).content.decode()
    beyond = browser.get("/", {"pageSize": "2", "page": "99"}).content.decode()
    garbage = browser.get("/", {"pageSize": "lots", "page": "first"}).content.decode()

    assert len(rows(capped)) == 2
    assert "Page 2 of 2" in beyond and len(rows(beyond)) == 1
    assert "Page 1 of" not in garbage and len(rows(garbage)) == 3


def test_an_invalid_filter_is_explained_and_ignored(browser, owner):
    MediaFactory(owner=owner, original_filename="kept.mp4")

    html = browser.get("/", {"status": "EXPLODED", "ordering": "colour"}).content.decode()

    assert rows(html) == ["kept.mp4"]
    assert "Unknown" in html and "Showing all your media instead." in html


def _dashboard_queries(client: Client, page_size: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/", {"pageSize": str(page_size)})
    assert response.status_code == 200
    assert len(rows(response.content.decode())) == page_size
    return len(queries)


def test_the_dashboard_costs_the_same_queries_for_one_row_or_a_hundred(video):
    many = UserFactory()
    for _ in range(100):
        finished_run(MediaFactory(owner=many))
    one = video.owner
    finished_run(video)
    single, hundred = Client(), Client()
    single.force_login(one)
    hundred.force_login(many)

    assert _dashboard_queries(single, 1) == _dashboard_queries(hundred, 100)
