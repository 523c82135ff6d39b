import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from tests.factories import (
    AnalysisRunFactory,
    DeepfakeAnalysisFactory,
    MediaFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_run_number_is_unique_per_media():
    run = AnalysisRunFactory(run_number=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisRunFactory(media=run.media, run_number=1)

    # The same number on another media item is fine.
    AnalysisRunFactory(run_number=1)
    assert AnalysisRun.objects.filter(run_number=1).count() == 2


def test_one_analysis_row_per_model_per_run():
    analysis = DeepfakeAnalysisFactory(model_name="SIGLIP-LSTM-V4")

    with pytest.raises(IntegrityError), transaction.atomic():
        DeepfakeAnalysisFactory(run=analysis.run, model_name="SIGLIP-LSTM-V4")

    DeepfakeAnalysisFactory(
        run=AnalysisRunFactory(media=analysis.run.media, run_number=2), model_name="SIGLIP-LSTM-V4"
    )
    assert DeepfakeAnalysis.objects.filter(model_name="SIGLIP-LSTM-V4").count() == 2


def test_deleting_a_user_deletes_their_media_runs_and_analyses():
    analysis = DeepfakeAnalysisFactory()
    owner = analysis.run.media.owner
    bystander = DeepfakeAnalysisFactory()

    owner_id = owner.pk

    owner.delete()

    assert not Media.objects.filter(owner_id=owner_id).exists()
    assert not AnalysisRun.objects.filter(pk=analysis.run_id).exists()
    assert not DeepfakeAnalysis.objects.filter(pk=analysis.pk).exists()
    assert DeepfakeAnalysis.objects.filter(pk=bystander.pk).exists()


def test_deleting_media_deletes_its_runs_and_analyses_and_clears_nothing_else():
    media = MediaFactory()
    run = AnalysisRunFactory(media=media, run_number=1)
    DeepfakeAnalysisFactory(run=run)
    media.latest_run = run
    media.save(update_fields=["latest_run"])
    other = DeepfakeAnalysisFactory()

    media.delete()

    assert AnalysisRun.objects.filter(media_id=media.pk).count() == 0
    assert DeepfakeAnalysis.objects.filter(run_id=run.pk).count() == 0
    assert DeepfakeAnalysis.objects.filter(pk=other.pk).exists()


def test_deleting_the_latest_run_leaves_the_media_pointing_nowhere():
    media = MediaFactory()
    run = AnalysisRunFactory(media=media, run_number=1)
    media.latest_run = run
    media.save(update_fields=["latest_run"])

    run.delete()

    media.refresh_from_db()
    assert media.latest_run is None


def test_media_file_is_written_through_the_storage_api():
    media = MediaFactory(original_filename="interview.mp4", owner=UserFactory())

    assert default_storage.exists(media.file.name)
    assert media.file.name.startswith("videos/")
