"""Representation plans give exactly what DRF's own walk over the fields gives."""

import datetime as dt
import json
import uuid
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.urls import reverse, set_script_prefix
from django.utils import timezone
from rest_framework import serializers
from rest_framework.utils.encoders import JSONEncoder

from drishtiksha.api.representation import representation_plan
from drishtiksha.api.serializers import CamelCaseFieldsMixin
from drishtiksha.http import reverse_for_id
from media_analysis.api.serializers import MediaDetailSerializer, MediaListItemSerializer
from media_analysis.choices import AnalysisStatus, RunStatus, Verdict
from media_analysis.models import Media
from media_analysis.selectors import (
    media_get_for_user,
    media_latest_run_from_runs,
    media_list_with_runs_for_user,
)
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, video_result_payload
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db


def _varied_library(owner) -> None:
    """Items as the list meets them: no run yet, a failed run, several runs, a thumbnail, nested
    verdict details, analyses with and without scores and times."""
    stored_media(owner=owner, content=b"never analysed")
    failed = stored_media(owner=owner, content=b"failed", description="a note")
    run = AnalysisRunFactory(
        media=failed, run_number=1, status=RunStatus.FAILED, error_message="server away"
    )
    DeepfakeAnalysisFactory(run=run, model_name="A", status=AnalysisStatus.FAILED)
    failed.latest_run = run
    failed.save(update_fields=["latest_run"])

    rich = stored_media(owner=owner, content=b"analysed twice", metadata={"duration": 1.5})
    rich.thumbnail.save(f"thumbnails/{rich.pk}.jpg", ContentFile(b"jpeg"), save=False)
    started = timezone.now() - dt.timedelta(minutes=3)
    for number in (1, 2):
        run = AnalysisRunFactory(
            media=rich,
            run_number=number,
            status=RunStatus.ANALYZED,
            verdict=Verdict.FAKE,
            fake_score=0.81,
            agreement=0.5,
            verdict_reason="two of three models",
            verdict_details={"model_contributions": [{"model_name": "A", "calibrated": 0.9}]},
            requested_models=["A", "B"],
            started_at=started,
            finished_at=started + dt.timedelta(seconds=42, microseconds=7),
        )
        DeepfakeAnalysisFactory(
            run=run,
            model_name="A",
            status=AnalysisStatus.COMPLETED,
            prediction="FAKE",
            confidence=0.9,
            processing_time=1.25,
            started_at=started,
        )
        DeepfakeAnalysisFactory(run=run, model_name="B", status=AnalysisStatus.ABSTAINED)
    rich.latest_run = run
    rich.save(update_fields=["latest_run", "thumbnail"])


@contextmanager
def _drf_walk():
    """DRF's own representation, field by field, as before the plans."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            CamelCaseFieldsMixin, "to_representation", serializers.Serializer.to_representation
        )
        yield


def _both(owner, serializer_class=MediaListItemSerializer) -> tuple[Any, Any]:
    request = RequestFactory().get("/api/v1/media")
    context = {"request": request}
    planned = serializer_class(_items(owner), many=True, context=context).data
    with _drf_walk():
        walked = serializer_class(_items(owner), many=True, context=context).data
    return planned, walked


def _items(owner) -> list:
    items = list(media_list_with_runs_for_user(user=owner))
    media_latest_run_from_runs(items)
    return items


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_the_list_plan_matches_the_serializer_field_by_field(owner, zone):
    _varied_library(owner)
    with timezone.override(zone):
        planned, walked = _both(owner)

    assert planned == walked
    # Same keys in the same order, at every level, not merely equal dicts.
    assert [list(item) for item in planned] == [list(item) for item in walked]
    rich = next(item for item in planned if item["thumbnailUrl"])
    assert list(rich["analysisRuns"][0]) == list(walked[planned.index(rich)]["analysisRuns"][0])
    assert rich["url"].startswith("http://testserver/api/v1/media/")
    assert rich["latestRun"]["verdictDetails"]["modelContributions"][0]["modelName"] == "A"
    if zone == "UTC":
        assert rich["latestRun"]["finishedAt"].endswith("Z")
    else:
        assert not rich["latestRun"]["finishedAt"].endswith("Z")


def test_the_list_endpoint_answers_what_the_serializer_would(owner, owner_client):
    _varied_library(owner)

    response = owner_client.get("/api/v1/media?page=1&pageSize=20")

    assert response.status_code == 200, response.content
    _, walked = _both(owner)
    assert response.json()["data"]["results"] == walked


def test_the_detail_with_payloads_matches_the_serializer(owner, owner_client):
    _varied_library(owner)
    media = Media.objects.exclude(latest_run=None).order_by("created_at")
    payload = video_result_payload(frames=5)
    for item in media:
        item.latest_run.analyses.update(
            result_payload=payload, error_details={"stage": "inference", "retries": [1, 2]}
        )
    request = RequestFactory().get("/api/v1/media/x")

    for item in media:
        detail = media_get_for_user(user=owner, media_id=item.pk)
        planned = MediaDetailSerializer(detail, context={"request": request}).data
        with _drf_walk():
            detail = media_get_for_user(user=owner, media_id=item.pk)
            walked = MediaDetailSerializer(detail, context={"request": request}).data
        assert planned == walked
        assert list(planned) == list(walked)
        response = owner_client.get(f"/api/v1/media/{item.pk}")
        assert response.json()["data"] == json.loads(json.dumps(walked, cls=JSONEncoder))
        assert [analysis["resultPayload"] for analysis in planned["analyses"]] == [payload] * len(
            planned["analyses"]
        )


class _Owner:
    name = "someone"


class _Thing:
    def __init__(self, **values):
        self.__dict__.update(values)

    def shout(self) -> str:
        return "LOUD"


class _Odd(serializers.Serializer):
    """Fields the plan does not specialise: it must hand them to DRF and get DRF's answer."""

    owner_name = serializers.CharField(source="owner.name")
    whole = serializers.SerializerMethodField()
    missing = serializers.CharField(default="fallback")
    omitted = serializers.CharField(required=False)
    shout = serializers.CharField()
    kind = serializers.ChoiceField(choices=[("1", "one"), ("2", "two")])
    naive = serializers.DateTimeField()
    formatted = serializers.DateTimeField(format="%Y-%m-%d")
    hex_id = serializers.UUIDField(format="hex")
    nothing = serializers.IntegerField(allow_null=True)

    def get_whole(self, thing) -> str:
        return type(thing).__name__


class _OddItems(serializers.Serializer):
    items = _Odd(many=True)
    first = _Odd(source="meta.thing")


def _odd_thing() -> _Thing:
    return _Thing(
        owner=_Owner(),
        kind=1,
        naive=dt.datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 - a naive value on purpose
        formatted=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        hex_id=uuid.UUID(int=5),
        nothing=None,
    )


def test_fields_the_plan_does_not_specialise_are_left_to_drf():
    serializer = _Odd()
    thing = _odd_thing()

    planned = representation_plan(serializer)(thing)

    assert planned == serializers.Serializer.to_representation(serializer, thing)
    assert planned["missing"] == "fallback"
    assert planned["shout"] == "LOUD"
    assert "omitted" not in planned


def test_dicts_and_nested_lists_are_represented_as_drf_does():
    data = {"items": [_odd_thing(), _odd_thing()], "meta": {"thing": _odd_thing()}}
    serializer = _OddItems()

    planned = representation_plan(serializer)(data)

    with _drf_walk():
        assert planned == _OddItems().to_representation(data)
    assert planned["first"] == planned["items"][0]


def test_an_id_route_is_reversed_once_and_filled_in():
    media_id = uuid.uuid4()
    expected = reverse("media-api:file", kwargs={"media_id": media_id})

    assert reverse_for_id("media-api:file", "media_id", media_id) == expected
    assert reverse_for_id("media-api:file", "media_id", str(media_id)) == expected
    set_script_prefix("/behind/a/proxy/")
    try:
        prefixed = reverse_for_id("media-api:file", "media_id", media_id)
    finally:
        set_script_prefix("/")
    assert prefixed == f"/behind/a/proxy{expected}"


def test_each_serializer_gets_fields_of_its_own_bound_to_itself(rf):
    """Fields are kept per class and copied for each serializer: never shared between two, so
    that one request's serializer (its context, its request) never answers for another's."""
    first, second = (
        MediaDetailSerializer(context={"request": rf.get("/", HTTP_HOST=host)})
        for host in ("first.example", "second.example")
    )

    for name, field in first.fields.items():
        other = second.fields[name]
        assert field is not other, name
        assert (field.parent, other.parent) == (first, second), name
        assert field.context["request"] is not other.context["request"], name
    first_runs, second_runs = first.fields["runs"], second.fields["runs"]
    assert first_runs.child is not second_runs.child
    assert first_runs.child.root is first and second_runs.child.root is second
    run_fields = first_runs.child.fields
    assert all(field.root is first for field in run_fields.values())
    assert run_fields["analyses"].child.root is first
