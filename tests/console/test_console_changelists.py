"""Every console changelist and change page renders with data; the index panel shows the counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict
from media_analysis.models import DeepfakeAnalysis, Media
from monitoring.models import HealthStatus, ServerHealth
from tests.factories import (
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    MediaFactory,
    image_result_payload,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def data() -> dict:
    media = MediaFactory(
        original_filename="interview.mp4", size=3 * 1024 * 1024, status=RunStatus.ANALYZED
    )
    run = AnalysisRunFactory(
        media=media, run_number=1, status=RunStatus.ANALYZED, verdict=Verdict.FAKE, fake_score=0.8
    )
    Media.objects.filter(pk=media.pk).update(latest_run=run)
    analysis = DeepfakeAnalysisFactory(
        run=run,
        model_name="DISTIL-DIRE-V1",
        status=AnalysisStatus.COMPLETED,
        prediction=Prediction.FAKE,
        confidence=0.8,
        processing_time=1.4,
        media_type=MediaType.IMAGE,
        result_payload=image_result_payload(size=8),
        error_details={"kind": "transient", "status_code": 503},
    )
    health = ServerHealth.objects.create(
        status=HealthStatus.DEGRADED,
        response_time_ms=321,
        stats_payload={"active_models_count": 2, "total_models_count": 3},
    )
    return {"media": media, "run": run, "analysis": analysis, "health": health}


def test_every_changelist_renders_its_rows(staff_client, staff_user, data):
    pages = {
        "/admin/accounts/user/": [staff_user.email, data["media"].owner.email],
        "/admin/media_analysis/media/": ["interview.mp4", "3.0\xa0MB", "Likely deepfake"],
        "/admin/media_analysis/analysisrun/": ["interview.mp4", "Likely deepfake"],
        "/admin/media_analysis/deepfakeanalysis/": ["DISTIL-DIRE-V1", "interview.mp4"],
        "/admin/monitoring/serverhealth/": ["321", "2 of 3"],
    }
    for url, expected in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for text in expected:
            assert text in html, (url, text)


def test_the_analysis_changelist_never_loads_result_payloads(staff_client, data):
    response = staff_client.get("/admin/media_analysis/deepfakeanalysis/")

    changelist = response.context["cl"]
    deferred = changelist.result_list[0].get_deferred_fields()
    assert {"result_payload", "error_details"} <= deferred


def test_changelist_filters(staff_client, data):
    other = DeepfakeAnalysisFactory(model_name="OTHER-MODEL", status=AnalysisStatus.FAILED)

    by_model = staff_client.get(
        "/admin/media_analysis/deepfakeanalysis/", {"model_name": "DISTIL-DIRE-V1"}
    )
    by_status = staff_client.get(
        "/admin/media_analysis/deepfakeanalysis/", {"status__exact": AnalysisStatus.FAILED}
    )
    by_type = staff_client.get("/admin/media_analysis/media/", {"media_type__exact": "AUDIO"})

    assert [a.pk for a in by_model.context["cl"].result_list] == [data["analysis"].pk]
    assert [a.pk for a in by_status.context["cl"].result_list] == [other.pk]
    assert list(by_type.context["cl"].result_list) == []


def test_media_search_by_owner_email(staff_client, data):
    response = staff_client.get("/admin/media_analysis/media/", {"q": data["media"].owner.email})

    assert [m.pk for m in response.context["cl"].result_list] == [data["media"].pk]


def test_analysis_page_pretty_prints_its_json(staff_client, data):
    response = staff_client.get(
        f"/admin/media_analysis/deepfakeanalysis/{data['analysis'].pk}/change/"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<pre" in html
    assert "&quot;heatmap_scores&quot;: [\n    [" in html
    assert "&quot;status_code&quot;: 503" in html


def test_a_huge_payload_is_cut(staff_client, data, settings):
    settings.ADMIN_JSON_PREVIEW_MAX_CHARS = 100
    DeepfakeAnalysis.objects.filter(pk=data["analysis"].pk).update(
        result_payload=image_result_payload(size=64)
    )

    html = staff_client.get(
        f"/admin/media_analysis/deepfakeanalysis/{data['analysis'].pk}/change/"
    ).content.decode()

    assert "cut here:" in html


def test_run_page_shows_the_stored_and_the_recomputed_verdict(staff_client, data):
    response = staff_client.get(f"/admin/media_analysis/analysisrun/{data['run'].pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "DISTIL-DIRE-V1" in html  # the analyses inline
    assert "Likely deepfake (fake score 0.800)" in html


def test_media_page_shows_its_runs_and_links_the_guarded_download(staff_client, data):
    media = data["media"]

    response = staff_client.get(f"/admin/media_analysis/media/{media.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Likely deepfake" in html
    assert f'<a href="/api/v1/media/{media.pk}/file">{media.file.name}</a>' in html


def test_health_page_is_read_only(staff_client, data):
    url = f"/admin/monitoring/serverhealth/{data['health'].pk}/change/"

    response = staff_client.get(url)

    assert response.status_code == 200
    assert "&quot;active_models_count&quot;: 2" in response.content.decode()
    assert staff_client.post(url, {"status": "HEALTHY"}).status_code == 403
    assert staff_client.get("/admin/monitoring/serverhealth/add/").status_code == 403


def test_index_panel_shows_todays_figures(staff_client, data):
    yesterday = MediaFactory()
    Media.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(days=1))
    AnalysisRunFactory(status=RunStatus.PROCESSING)  # its media is uploaded today too
    AnalysisRunFactory(status=RunStatus.QUEUED)
    now = timezone.now()
    for status in (AnalysisStatus.FAILED, AnalysisStatus.COMPLETED, AnalysisStatus.COMPLETED):
        DeepfakeAnalysisFactory(
            status=status, finished_at=now - timedelta(hours=1), run__status=RunStatus.ANALYZED
        )
    DeepfakeAnalysisFactory(
        status=AnalysisStatus.FAILED,
        finished_at=now - timedelta(hours=30),
        run__status=RunStatus.FAILED,
    )
    ServerHealth.objects.create(status=HealthStatus.HEALTHY, response_time_ms=55)

    html = staff_client.get("/admin/").content.decode()

    # interview.mp4 + the two runs' media + the four analyses' media; not yesterday's.
    assert '<dd id="console-uploads-today">7</dd>' in html
    assert '<dd id="console-runs-in-progress">2</dd>' in html
    # 1 failed of 3 finished in the last 24 h (the fixture's analysis has no finished_at).
    assert "33.3 %" in html and "1 of 3 analyses" in html
    assert "Healthy" in html and "55 ms" in html
    assert 'href="/monitoring/"' in html
