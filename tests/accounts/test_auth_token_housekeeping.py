from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.tasks import expired_tokens_flush_task
from tests.factories import UserFactory


@pytest.mark.django_db
def test_expired_refresh_token_records_are_flushed_and_live_ones_kept():
    user = UserFactory()
    now = timezone.now()
    OutstandingToken.objects.create(
        user=user, jti="expired", token="x", created_at=now - timedelta(days=30),
        expires_at=now - timedelta(days=1),
    )  # fmt: skip
    OutstandingToken.objects.create(
        user=user, jti="live", token="y", created_at=now, expires_at=now + timedelta(days=1)
    )

    expired_tokens_flush_task()

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == ["live"]


def test_the_flush_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["flush-expired-tokens"]
    assert entry["task"] == expired_tokens_flush_task.name
    assert entry["schedule"] == 24 * 60 * 60
