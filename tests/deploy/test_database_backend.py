"""Timestamps come back from PostgreSQL as Django's backend gives them, read by compiled code."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from django.utils import timezone
from psycopg.pq import Format

from drishtiksha.postgresql.base import TIMESTAMPTZ_OID
from media_analysis.models import Media
from tests.factories import MediaFactory

pytestmark = pytest.mark.django_db

STORED = [
    datetime.datetime(2026, 12, 7, 20, 31, 5, 123456, tzinfo=datetime.UTC),
    datetime.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC),
    # Stored from another zone: read back in UTC, the same instant.
    datetime.datetime(2026, 3, 29, 2, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=5.5))),
]


def test_the_project_backend_reads_timestamps_with_psycopgs_own_loader():
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    # Django's loader (a subclass of psycopg's Python one) would keep the compiled one out.
    assert not issubclass(loader, BaseTzLoader)
    assert loader.__module__.startswith(("psycopg_binary", "psycopg_c"))


def test_timestamps_read_back_are_the_same_aware_instants_in_utc():
    with connection.cursor() as cursor:
        cursor.execute("SELECT a FROM unnest(%s::timestamptz[]) AS a", [STORED])
        read = [row[0] for row in cursor.fetchall()]
    assert read == STORED
    assert all(value.tzinfo is datetime.UTC for value in read)
    assert read[2].hour == 21 and read[2].minute == 0


def test_model_timestamps_round_trip(user):
    media = MediaFactory(owner=user)
    moment = timezone.now().replace(microsecond=654321)
    Media.objects.filter(pk=media.pk).update(prepared_at=moment)
    again = Media.objects.get(pk=media.pk)
    assert again.prepared_at == moment
    assert again.prepared_at.tzinfo is datetime.UTC
    assert again.created_at == media.created_at
