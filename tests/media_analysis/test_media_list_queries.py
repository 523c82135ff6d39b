"""The API's media list costs the same number of queries for 1 item as for 30, paged or not."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from media_analysis.choices import RunStatus, Verdict
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db

URLS = ["/api/v1/media", "/api/v1/media?pageSize=100", "/api/v1/media?page=1&pageSize=20"]


def _media_with_runs(owner, runs: int) -> None:
    media = stored_media(owner=owner, content=b"list")
    for number in range(1, runs + 1):
        run = AnalysisRunFactory(
            media=media, run_number=number, status=RunStatus.ANALYZED, verdict=Verdict.FAKE
        )
        DeepfakeAnalysisFactory(run=run, model_name="A")
        DeepfakeAnalysisFactory(run=run, model_name="B")
    media.latest_run = run
    media.save(update_fields=["latest_run"])


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


def test_list_queries_do_not_grow_with_items(owner, owner_client):
    _media_with_runs(owner, runs=2)
    one = [_queries(owner_client, url) for url in URLS]
    for index in range(29):
        _media_with_runs(owner, runs=1 + index % 3)
    thirty = [_queries(owner_client, url) for url in URLS]

    assert one == thirty
    # Media ids (with the count), rows, runs, analyses: the latest run is not fetched twice.
    print(one)
    assert thirty[0] <= 5
