"""Runs end to end: run_start → chord of analysis_execute_task on a real worker → run_finalize.

Real Redis (broker, result backend, leases), real PostgreSQL, the fake inference server over HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from celery.result import AsyncResult
from celery.signals import task_postrun
from django.db import connections
from rest_framework.test import APIClient

from drishtiksha.celery import app as celery_app
from drishtiksha.errors import Conflict, ValidationFailed
from media_analysis import ml_client
from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus, Verdict
from media_analysis.leases import AnalysisLease
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.pipeline.common import RunInProgress
from media_analysis.pipeline.execute import Outcome, analysis_execute
from media_analysis.pipeline.finish import run_finalize_if_settled
from media_analysis.pipeline.start import run_start
from media_analysis.selectors import media_get_with_latest_run
from media_analysis.tasks import analysis_execute_task
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, UserFactory
from tests.fakes.inference_server import Failure, FakeModel
from tests.fixtures.pipeline import running_worker, stored_media, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = ("SIGLIP-LSTM-V4", "COLOR-CUES-LSTM-V1", "EFFICIENTNET-B7-V1")


def finished(run: AnalysisRun, *, timeout: float = 60.0) -> AnalysisRun:
    """Wait until the run is final and return it fresh (only a failing test waits long)."""

    def final() -> AnalysisRun | None:
        fresh = AnalysisRun.objects.get(pk=run.pk)
        return fresh if fresh.status in RunStatus.final() else None

    return wait_for(final, timeout=timeout)


def analyses_of(run: AnalysisRun) -> dict[str, DeepfakeAnalysis]:
    return {a.model_name: a for a in DeepfakeAnalysis.objects.filter(run=run)}


def test_three_models_run_in_parallel_and_the_run_gets_its_verdict(
    fake_inference, pipeline_worker, settings
):
    for model in fake_inference.models:
        model.delay = 0.5
        # Each answer waits until all three models were asked. Run side by side, they all are and
        # the answers go out; run one after another, the first waits out its hold alone and
        # answers before the next is even sent. However slow the machine, nothing else decides.
        model.hold_until = lambda: len(fake_inference.analyze_requests()) == len(MODELS)
        model.hold_timeout = 10.0
    settings.ML_READ_TIMEOUT_SECONDS = 30
    media = stored_media(original_filename="my holiday (final).MOV")

    run = run_start(media=media)

    assert (run.run_number, run.status) == (1, RunStatus.QUEUED)
    done = finished(run)
    assert done.status == RunStatus.ANALYZED
    # (0.9 + 0.8 + (1 - 0.6)) / 3 = 0.7 > 0.55; two of the three models said FAKE.
    assert done.verdict == Verdict.FAKE
    assert done.fake_score == pytest.approx(0.7)
    assert done.agreement == pytest.approx(2 / 3)
    assert done.started_at is not None and done.finished_at is not None
    media.refresh_from_db()
    assert (media.status, media.latest_run_id) == (RunStatus.ANALYZED, run.pk)

    analyses = analyses_of(run)
    assert set(analyses) == set(MODELS)
    siglip = analyses["SIGLIP-LSTM-V4"]
    assert siglip.status == AnalysisStatus.COMPLETED
    assert (siglip.prediction, siglip.confidence) == (Prediction.FAKE, pytest.approx(0.9))
    assert siglip.processing_time == pytest.approx(0.5)
    assert (siglip.media_type, siglip.model_used, siglip.attempts) == (
        MediaType.VIDEO,
        "SIGLIP-LSTM-V4",
        1,
    )
    assert siglip.result_payload["frames_analyzed"] == 4
    assert analyses["EFFICIENTNET-B7-V1"].prediction == Prediction.REAL

    requests = fake_inference.analyze_requests()
    assert sorted(request.model for request in requests) == sorted(MODELS)
    answers = fake_inference.analyze_answers()
    assert sorted(answer.model for answer in answers) == sorted(MODELS)
    # Side by side: every model was asked before the first answer was sent.
    assert max(request.received_at for request in requests) < min(
        answer.sent_at for answer in answers
    )
    for request in requests:
        assert request.api_key == fake_inference.api_key
        # Named after the stored key, never after what the user uploaded.
        assert request.filename == f"{media.pk}.mp4"
        assert (request.media_id, request.user_id) == (str(media.pk), str(media.owner_id))
    assert len({request.correlation_id for request in requests}) == 3


def test_a_model_answering_422_fails_alone_without_retry_and_the_run_is_partial(
    fake_inference, pipeline_worker
):
    fake_inference.model("COLOR-CUES-LSTM-V1").failure = Failure.ERROR_422

    done = finished(run_start(media=stored_media()))

    assert done.status == RunStatus.PARTIALLY_ANALYZED
    # Verdict over the two completed models: (0.9 + 0.4) / 2 = 0.65; one of two says FAKE.
    assert (done.verdict, done.fake_score, done.agreement) == (
        Verdict.FAKE,
        pytest.approx(0.65),
        pytest.approx(0.5),
    )
    assert "1 of 3 models failed" in done.error_message
    failed = analyses_of(done)["COLOR-CUES-LSTM-V1"]
    assert failed.status == AnalysisStatus.FAILED
    assert (
        failed.error_message == "Media could not be processed. Reason: audio shorter than one chunk"
    )
    assert failed.error_details["status_code"] == 422
    assert failed.error_details["correlation_id"]
    assert "Media Processing Error" in failed.error_details["server_response"]
    assert failed.attempts == 1
    assert len(fake_inference.analyze_requests("COLOR-CUES-LSTM-V1")) == 1
    assert done.media.status == RunStatus.PARTIALLY_ANALYZED


def test_a_500_once_is_retried_and_completes(fake_inference, pipeline_worker):
    fake_inference.model("SIGLIP-LSTM-V4").failure = Failure.ERROR_500_ONCE

    done = finished(run_start(media=stored_media()))

    assert done.status == RunStatus.ANALYZED
    retried = analyses_of(done)["SIGLIP-LSTM-V4"]
    assert (retried.status, retried.attempts) == (AnalysisStatus.COMPLETED, 2)
    assert retried.error_message == "" and retried.error_details == {}
    requests = fake_inference.analyze_requests("SIGLIP-LSTM-V4")
    assert len(requests) == 2
    assert requests[0].correlation_id != requests[1].correlation_id


def test_when_every_model_fails_the_run_fails_and_nothing_stays_open(
    fake_inference, pipeline_worker, settings
):
    settings.ANALYSIS_MAX_RETRIES = 1
    for model in fake_inference.models:
        model.failure = Failure.ERROR_500
    media = stored_media()

    done = finished(run_start(media=media))

    assert done.status == RunStatus.FAILED
    assert (done.verdict, done.fake_score, done.agreement) == (Verdict.INCONCLUSIVE, None, None)
    assert done.verdict_reason.startswith("No model found usable evidence: 3 failed (")
    assert done.error_message.startswith("Every model failed.")
    assert "CUDA out of memory" in done.error_message
    for analysis in analyses_of(done).values():
        assert analysis.status == AnalysisStatus.FAILED
        # Transient: tried once more, then given up.
        assert analysis.attempts == 2
        assert analysis.error_details["kind"] == "transient"
        assert analysis.error_details["status_code"] == 500
    assert len(fake_inference.analyze_requests()) == 6
    media.refresh_from_db()
    assert media.status == RunStatus.FAILED
    assert not AnalysisRun.objects.filter(status__in=RunStatus.active()).exists()
    assert not DeepfakeAnalysis.objects.exclude(status__in=AnalysisStatus.final()).exists()


def test_a_model_that_times_out_and_one_that_answers_garbage_fail_with_clear_messages(
    fake_inference, pipeline_worker, settings
):
    # Long enough for the models that do answer to make it on a loaded machine; the one that
    # times out sleeps past it (the fake's timeout_sleep, 5 s).
    settings.ML_READ_TIMEOUT_SECONDS = 2
    settings.ANALYSIS_MAX_RETRIES = 1
    fake_inference.model("SIGLIP-LSTM-V4").failure = Failure.TIMEOUT
    fake_inference.model("COLOR-CUES-LSTM-V1").failure = Failure.GARBAGE

    done = finished(run_start(media=stored_media()))

    assert done.status == RunStatus.PARTIALLY_ANALYZED
    analyses = analyses_of(done)
    slow = analyses["SIGLIP-LSTM-V4"]
    assert slow.status == AnalysisStatus.FAILED
    assert slow.error_message == "The inference server did not answer within 2 seconds."
    assert (slow.error_details["kind"], slow.attempts) == ("transient", 2)
    garbled = analyses["COLOR-CUES-LSTM-V1"]
    assert garbled.status == AnalysisStatus.FAILED
    assert garbled.error_message == "The inference server sent an answer that is not valid JSON."
    assert garbled.error_details["status_code"] == 200
    assert "502 Bad Gateway" in garbled.error_details["server_response"]
    assert analyses["EFFICIENTNET-B7-V1"].status == AnalysisStatus.COMPLETED
    # Only the completed model counts: REAL at 0.6 -> fake probability 0.4 < 0.45.
    assert (done.verdict, done.fake_score, done.agreement) == (
        Verdict.REAL,
        pytest.approx(0.4),
        1.0,
    )


def test_inference_server_down_at_start_then_up_the_run_still_completes(
    fake_inference, pipeline_worker
):
    fake_inference.stop()
    media = stored_media()

    run = run_start(media=media)

    assert run.status == RunStatus.QUEUED
    assert not run.analyses.exists()
    media.refresh_from_db()
    assert media.status == RunStatus.QUEUED
    time.sleep(0.5)
    assert AnalysisRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
    fake_inference.start()
    done = finished(run)
    assert done.status == RunStatus.ANALYZED
    assert set(analyses_of(done)) == set(MODELS)


def test_inference_server_down_for_the_whole_discovery_window_fails_the_run_with_the_reason(
    fake_inference, pipeline_worker, settings
):
    settings.ANALYSIS_DISCOVERY_TIMEOUT_SECONDS = 1
    fake_inference.stop()
    media = stored_media()

    done = finished(run_start(media=media))

    assert done.status == RunStatus.FAILED
    assert done.error_message.startswith("The inference server could not be reached for")
    assert not done.analyses.exists()
    media.refresh_from_db()
    assert media.status == RunStatus.FAILED


def test_no_compatible_model_fails_the_run_at_once_with_the_reason(fake_inference):
    media = stored_media(
        media_type=MediaType.AUDIO, extension="wav", mimetype="audio/wav", has_audio=None
    )

    run = run_start(media=media)

    assert run.status == RunStatus.FAILED
    assert run.error_message == (
        "No model loaded on the inference server can analyse this audio file."
    )
    assert run.finished_at is not None
    assert not run.analyses.exists()
    media.refresh_from_db()
    assert media.status == RunStatus.FAILED


@pytest.mark.parametrize(
    ("media_fields", "status"),
    [
        ({}, RunStatus.QUEUED),
        (
            {"media_type": MediaType.AUDIO, "extension": "wav", "mimetype": "audio/wav"},
            RunStatus.FAILED,
        ),
    ],
    ids=["queued", "no-compatible-model"],
)
def test_run_start_returns_the_run_and_media_exactly_as_it_stored_them(
    fake_inference, media_fields, status
):
    """run_start hands back what it wrote instead of reading it back: every field must match."""
    media = stored_media(**media_fields)

    run = run_start(media=media)

    stored_run = AnalysisRun.objects.get(pk=run.pk)
    assert run.status == status
    assert {field.attname: getattr(run, field.attname) for field in AnalysisRun._meta.fields} == {
        field.attname: getattr(stored_run, field.attname) for field in AnalysisRun._meta.fields
    }
    stored_media_row = Media.objects.get(pk=media.pk)
    assert (media.latest_run_id, media.status, media.updated_at) == (
        stored_media_row.latest_run_id,
        stored_media_row.status,
        stored_media_row.updated_at,
    )
    assert media.latest_run.pk == run.pk


def test_run_start_for_new_media_needs_the_transaction_that_created_it(fake_inference):
    """Without the creating transaction open, the row is visible to others and needs the lock."""
    media = stored_media()

    with pytest.raises(ValueError, match="new_media"):
        run_start(media=media, new_media=True)

    assert not AnalysisRun.objects.filter(media=media).exists()


def test_models_that_finish_before_the_last_one_do_not_read_the_run(
    fake_inference, django_assert_num_queries
):
    """Each analysis task learns its run's size when it claims its row; until the last final
    event is sent, looking whether the run is settled costs no database query."""
    run = run_start(media=stored_media())
    first, second, last = analyses_of(run).values()

    outcome = analysis_execute(analysis_id=first.pk, task_id=first.task_id)

    assert (outcome.outcome, outcome.run_analyses) == (Outcome.COMPLETED, 3)
    with django_assert_num_queries(0):
        assert run_finalize_if_settled(run_id=run.pk, analysis_id=first.pk, run_analyses=3) is None
    for analysis in (second, last):
        analysis_execute(analysis_id=analysis.pk, task_id=analysis.task_id)
    run_finalize_if_settled(run_id=run.pk, analysis_id=second.pk, run_analyses=3)
    settled = run_finalize_if_settled(run_id=run.pk, analysis_id=last.pk, run_analyses=3)
    assert settled is not None and settled.status == RunStatus.ANALYZED


def test_the_run_completed_media_leaves_result_payloads_in_the_database(fake_inference):
    """RUN_COMPLETED carries the media and its latest run, never the per-frame payloads."""
    run = run_start(media=stored_media())
    for analysis in analyses_of(run).values():
        analysis_execute(analysis_id=analysis.pk, task_id=analysis.task_id)

    media = media_get_with_latest_run(media_id=run.media_id)

    analyses = list(media.latest_run.analyses.all())
    assert len(analyses) == 3
    for analysis in analyses:
        assert {"result_payload", "error_details"} <= analysis.get_deferred_fields()


def test_a_subset_of_models_can_be_requested(fake_inference, pipeline_worker):
    done = finished(run_start(media=stored_media(), model_names=["EFFICIENTNET-B7-V1"]))

    assert done.status == RunStatus.ANALYZED
    assert done.requested_models == ["EFFICIENTNET-B7-V1"]
    assert list(analyses_of(done)) == ["EFFICIENTNET-B7-V1"]
    assert (done.verdict, done.agreement) == (Verdict.REAL, 1.0)


def test_unknown_or_incompatible_model_names_are_refused_on_the_models_field(
    fake_inference_factory,
):
    fake_inference_factory(
        [
            FakeModel("SIGLIP-LSTM-V4", video=True),
            FakeModel("MEL-SPECTROGRAM-CNN-V3", audio=True),
            FakeModel("LIP-FD-V1", video=True, multimodal=True),
        ]
    )
    silent_video = stored_media(has_audio=False)

    with pytest.raises(ValidationFailed) as unknown:
        run_start(media=silent_video, model_names=["NOPE-V1"])
    with pytest.raises(ValidationFailed) as unusable:
        run_start(media=silent_video, model_names=["SIGLIP-LSTM-V4", "LIP-FD-V1"])

    assert "unknown model(s): NOPE-V1" in unknown.value.field_errors["models"]
    assert "video without an audio track (.mp4): LIP-FD-V1" in unusable.value.field_errors["models"]
    assert not AnalysisRun.objects.exists()


def test_a_second_run_while_one_is_in_progress_is_a_conflict(fake_inference):
    media = stored_media()
    run_start(media=media)

    with pytest.raises(RunInProgress) as conflict:
        run_start(media=media)

    assert isinstance(conflict.value, Conflict)
    assert conflict.value.status_code == 409
    assert AnalysisRun.objects.filter(media=media).count() == 1


def test_a_rerun_after_the_first_finishes_gets_the_next_number(fake_inference, pipeline_worker):
    media = stored_media()
    first = finished(run_start(media=media))

    second = finished(run_start(media=media, model_names=["SIGLIP-LSTM-V4"]))

    assert (first.run_number, second.run_number) == (1, 2)
    media.refresh_from_db()
    assert media.latest_run_id == second.pk
    # The first run and its analyses are kept: versioned history.
    assert analyses_of(first).keys() == set(MODELS)


def _race_in_pairs(media_items: list[Media], call: Callable[[Media, threading.Barrier], None]):
    """For each media item in turn, `call` it from two threads released at the same moment."""
    for media in media_items:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=call, args=(media, barrier)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def test_concurrent_starts_on_one_media_never_duplicate_a_run_number(fake_inference):
    media_items = [stored_media() for _ in range(5)]
    outcomes: list[object] = []
    lock = threading.Lock()

    def start(media: Media, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            result: object = run_start(media=media)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted on below
            result = exc
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    _race_in_pairs(media_items, start)

    runs = [outcome for outcome in outcomes if isinstance(outcome, AnalysisRun)]
    errors = [outcome for outcome in outcomes if not isinstance(outcome, AnalysisRun)]
    assert all(isinstance(error, RunInProgress) for error in errors), errors
    # Each media item got exactly one run (the second start saw it in progress), numbered 1.
    assert len(runs) == len(errors) == 5
    for media in media_items:
        assert list(
            AnalysisRun.objects.filter(media=media).values_list("run_number", flat=True)
        ) == [1]
        assert DeepfakeAnalysis.objects.filter(run__media=media).count() == 3


def test_concurrent_reruns_of_a_finished_media_get_one_next_number_and_one_409(fake_inference):
    owner = UserFactory()
    media_items = []
    for _ in range(5):
        media = stored_media(owner=owner)
        first = AnalysisRunFactory(media=media, run_number=1, status=RunStatus.ANALYZED)
        Media.objects.filter(pk=media.pk).update(latest_run=first, status=RunStatus.ANALYZED)
        media_items.append(media)
    responses: dict[object, list] = {media.pk: [] for media in media_items}
    lock = threading.Lock()

    def rerun(media: Media, barrier: threading.Barrier) -> None:
        client = APIClient()
        client.force_authenticate(owner)
        try:
            barrier.wait()
            response = client.post(f"/api/v1/media/{media.pk}/analyze", {}, format="json")
        finally:
            connections.close_all()
        with lock:
            responses[media.pk].append(response)

    _race_in_pairs(media_items, rerun)

    for media in media_items:
        accepted, refused = sorted(responses[media.pk], key=lambda response: response.status_code)
        assert (accepted.status_code, refused.status_code) == (202, 409), refused.content
        assert accepted.json()["data"]["latestRun"]["runNumber"] == 2
        assert refused.json()["success"] is False
        assert refused.json()["message"] in {
            RunInProgress.default_message,
            "Another analysis of this media was started at the same moment.",
        }
        assert list(
            AnalysisRun.objects.filter(media=media)
            .order_by("run_number")
            .values_list("run_number", flat=True)
        ) == [1, 2]
        assert DeepfakeAnalysis.objects.filter(run__media=media, run__run_number=2).count() == 3


def test_the_same_task_delivered_twice_is_not_redone(fake_inference, pipeline_worker):
    done = finished(run_start(media=stored_media()))
    analysis = analyses_of(done)["SIGLIP-LSTM-V4"]

    redelivered = analysis_execute_task.apply_async(kwargs={"analysis_id": str(analysis.pk)})

    assert redelivered.get(timeout=30) == "already_final"
    assert DeepfakeAnalysis.objects.filter(run=done).count() == 3
    again = DeepfakeAnalysis.objects.get(pk=analysis.pk)
    assert (again.attempts, again.updated_at) == (1, analysis.updated_at)
    assert len(fake_inference.analyze_requests("SIGLIP-LSTM-V4")) == 1


def test_a_redelivered_message_with_the_same_task_id_is_not_redone(fake_inference, pipeline_worker):
    """What the broker does when a worker took a message and its acknowledgement was lost: the
    very same message (same task id) once more, after the analysis was done."""
    # What every execution returned, as the (in-process) worker saw it: the result backend would
    # only keep one result per task id. Recorded from the start, so that a first delivery that is
    # still wrapping up when the run turns final cannot pass for its redelivery.
    executions: dict[str, list[tuple[str, object]]] = {}
    lock = threading.Lock()

    def record(*, task_id: str, state: str, retval: object, **_: object) -> None:
        with lock:
            executions.setdefault(task_id, []).append((state, retval))

    def executed(task_id: str) -> list[tuple[str, object]]:
        with lock:
            return sorted(executions.get(task_id, []))

    task_postrun.connect(record, weak=False)
    try:
        done = finished(run_start(media=stored_media()))
        before = analyses_of(done)
        for analysis in before.values():
            analysis_execute_task.apply_async(
                kwargs={"analysis_id": str(analysis.pk)}, task_id=analysis.task_id
            )
        wait_for(lambda: all(len(executed(a.task_id)) == 2 for a in before.values()))
    finally:
        task_postrun.disconnect(record)

    for analysis in before.values():
        assert executed(analysis.task_id) == [
            ("SUCCESS", "already_final"),
            ("SUCCESS", "completed"),
        ]

    after = analyses_of(done)
    assert set(after) == set(MODELS)
    for name, analysis in after.items():
        assert analysis.status == AnalysisStatus.COMPLETED
        assert (analysis.attempts, analysis.task_id, analysis.updated_at) == (
            1,
            before[name].task_id,
            before[name].updated_at,
        )
        assert len(fake_inference.analyze_requests(name)) == 1
    assert DeepfakeAnalysis.objects.filter(run__media=done.media).count() == len(MODELS)
    again = AnalysisRun.objects.get(pk=done.pk)
    assert (again.status, again.finished_at) == (RunStatus.ANALYZED, done.finished_at)


def test_an_unexpected_error_in_an_analysis_fails_it_generically_and_the_run_still_finalizes(
    fake_inference, pipeline_worker, settings, monkeypatch
):
    settings.ANALYSIS_MAX_RETRIES = 1
    real_media_analyze = ml_client.media_analyze

    def media_analyze(*, media, model_name, **options):
        if model_name == "SIGLIP-LSTM-V4":
            raise RuntimeError("secret internals: bucket s3://private/keys")
        return real_media_analyze(media=media, model_name=model_name, **options)

    monkeypatch.setattr(ml_client, "media_analyze", media_analyze)

    run = run_start(media=stored_media())
    done = finished(run)

    # The chord callback ran (no reaper sweeps here): the run is settled over the other two.
    assert done.status == RunStatus.PARTIALLY_ANALYZED
    # (0.8 + (1 - 0.6)) / 2 = 0.6 > 0.55; one of the two says FAKE.
    assert (done.verdict, done.fake_score, done.agreement) == (
        Verdict.FAKE,
        pytest.approx(0.6),
        pytest.approx(0.5),
    )
    broken = analyses_of(done)["SIGLIP-LSTM-V4"]
    assert broken.status == AnalysisStatus.FAILED
    assert broken.error_message == "An internal error stopped this analysis."
    assert (broken.error_details["kind"], broken.error_details["exception"]) == (
        "internal",
        "RuntimeError",
    )
    assert "secret" not in broken.error_message + str(broken.error_details)
    # Retried once like any other failure, then given up; the task itself did not fail.
    assert broken.attempts == 2
    result = AsyncResult(broken.task_id, app=celery_app)
    assert (result.get(timeout=30), result.state) == ("failed", "SUCCESS")
    assert "SIGLIP-LSTM-V4: An internal error stopped this analysis." in done.error_message
    assert fake_inference.analyze_requests("SIGLIP-LSTM-V4") == []


def test_a_duplicate_racing_a_live_task_does_not_run_the_model_twice(
    fake_inference, pipeline_worker, settings
):
    # The analysis outlasts two lease lifetimes, so it is the holder's renewals that keep the
    # copy out; a lifetime of 2 s (renewed every 0.67 s) survives a loaded machine's stalls, and
    # the client waits for the slow answer instead of retrying it.
    settings.ANALYSIS_HEARTBEAT_SECONDS = 2.0
    settings.ML_READ_TIMEOUT_SECONDS = 30
    fake_inference.model("SIGLIP-LSTM-V4").delay = 5.0
    run = run_start(media=stored_media(), model_names=["SIGLIP-LSTM-V4"])
    analysis = run.analyses.get()
    wait_for(
        lambda: DeepfakeAnalysis.objects.filter(
            pk=analysis.pk, status=AnalysisStatus.PROCESSING
        ).exists()
    )

    duplicate = analysis_execute_task.apply_async(kwargs={"analysis_id": str(analysis.pk)})

    # The live holder keeps renewing its lease, so the copy stands down (or, if the holder
    # finished while it waited, finds the analysis final).
    assert duplicate.get(timeout=30) in {"busy", "already_final"}
    assert finished(run).status == RunStatus.ANALYZED
    assert len(fake_inference.analyze_requests("SIGLIP-LSTM-V4")) == 1
    assert DeepfakeAnalysis.objects.get(pk=analysis.pk).attempts == 1


def test_media_deleted_mid_analysis_ends_harmlessly(fake_inference, pipeline_worker, settings):
    settings.ML_READ_TIMEOUT_SECONDS = 30
    fake_inference.model("SIGLIP-LSTM-V4").delay = 1.0
    media = stored_media()
    run = run_start(media=media, model_names=["SIGLIP-LSTM-V4"])
    analysis = run.analyses.get()
    wait_for(lambda: fake_inference.analyze_requests("SIGLIP-LSTM-V4"))

    media.delete()

    assert AsyncResult(analysis.task_id, app=celery_app).get(timeout=30) == "gone"
    assert not AnalysisRun.objects.filter(pk=run.pk).exists()
    assert not DeepfakeAnalysis.objects.filter(pk=analysis.pk).exists()
    assert not Media.objects.filter(pk=media.pk).exists()


def test_media_deleted_through_the_api_mid_analysis_ends_without_errors(
    fast_password_hashing,
    fake_inference,
    pipeline_worker,
    settings,
    user,
    bearer_client,
    caplog,
    finished_task_names,
):
    """DELETE while the model is still working: the task and the chord callback find the rows
    gone, recreate nothing and log nothing worse than a warning."""
    # The in-process worker's pool threads log into this process, so caplog sees them too.
    caplog.set_level(logging.WARNING, logger="media_analysis")
    caplog.set_level(logging.WARNING, logger="celery")
    settings.ML_READ_TIMEOUT_SECONDS = 30
    fake_inference.model("SIGLIP-LSTM-V4").delay = 1.0
    media = stored_media(owner=user)
    storage, stored_name = media.file.storage, media.file.name
    assert storage.exists(stored_name)

    run = run_start(media=media, model_names=["SIGLIP-LSTM-V4"])
    analysis = run.analyses.get()
    wait_for(lambda: fake_inference.analyze_requests("SIGLIP-LSTM-V4"))
    assert DeepfakeAnalysis.objects.get(pk=analysis.pk).status == AnalysisStatus.PROCESSING

    response = bearer_client.delete(f"/api/v1/media/{media.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["success"], body["statusCode"], body["data"]) == (
        True,
        200,
        {"id": str(media.pk)},
    )
    assert AsyncResult(analysis.task_id, app=celery_app).get(timeout=30) == "gone"
    # The run's chord callback comes after the analysis; only then is everything done.
    wait_for(lambda: "media_analysis.run_finalize" in finished_task_names, timeout=30)

    assert not Media.objects.filter(pk=media.pk).exists()
    assert not AnalysisRun.objects.filter(media_id=media.pk).exists()
    assert not DeepfakeAnalysis.objects.filter(run_id=run.pk).exists()
    assert not storage.exists(stored_name)
    errors = [
        f"{entry.name}: {entry.getMessage()}"
        for entry in caplog.records
        if entry.levelno >= logging.ERROR
        and entry.name.split(".")[0] in {"media_analysis", "celery"}
    ]
    assert errors == []


def test_tasks_enqueued_in_an_uncommitted_transaction_wait_for_the_commit(fake_inference):
    from django.db import transaction

    media = stored_media()
    with running_worker():
        with transaction.atomic():
            run = run_start(media=media)
            time.sleep(0.5)
            # Nothing was sent before the rows it needs were committed.
            assert not fake_inference.analyze_requests()
        assert finished(run).status == RunStatus.ANALYZED


def _interrupted_analysis(**fields) -> DeepfakeAnalysis:
    """A run in progress whose only analysis a worker had claimed before it died."""
    run = AnalysisRunFactory(media=stored_media(), run_number=1, status=RunStatus.PROCESSING)
    return DeepfakeAnalysisFactory(
        run=run, model_name="SIGLIP-LSTM-V4", status=AnalysisStatus.PROCESSING, **fields
    )


def test_a_redelivered_task_waits_for_the_dead_workers_lease_then_takes_over(
    fake_inference, pipeline_worker, settings
):
    analysis = _interrupted_analysis(attempts=1)
    # The dead worker's lease lapses after 1 s (fast_pipeline). The redelivered task's own
    # lifetime is longer, so it waits (4/3 of its lifetime) well past that lapse: with equal
    # lifetimes the margin would be a third of a second, which a loaded machine can eat.
    held_since = time.monotonic()
    dead_workers_lease = AnalysisLease(analysis_id=analysis.pk, owner="worker-that-died")
    assert dead_workers_lease.acquire(wait=False)
    settings.ANALYSIS_HEARTBEAT_SECONDS = 10.0

    redelivered = analysis_execute_task.apply_async(kwargs={"analysis_id": str(analysis.pk)})

    assert redelivered.get(timeout=30) == "completed"
    analysis.refresh_from_db()
    assert (analysis.status, analysis.attempts) == (AnalysisStatus.COMPLETED, 2)
    (request,) = fake_inference.analyze_requests()
    # Not before the dead worker's lease (1 s) had lapsed.
    assert request.received_at - held_since >= 0.9


def test_a_task_whose_workers_keep_dying_gives_up_instead_of_looping(
    fake_inference, pipeline_worker, settings
):
    settings.ANALYSIS_MAX_RETRIES = 1
    analysis = _interrupted_analysis(attempts=2)

    redelivered = analysis_execute_task.apply_async(kwargs={"analysis_id": str(analysis.pk)})

    assert redelivered.get(timeout=30) == "failed"
    analysis.refresh_from_db()
    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error_message.startswith("Gave up after 2 attempts")
    assert analysis.error_details["kind"] == "worker_lost"
    assert fake_inference.analyze_requests() == []


def test_analyses_sent_without_a_chord_settle_their_run_themselves(
    fake_inference, pipeline_worker, group_recorder
):
    """The last model to finish finalizes its run: no chord callback is needed for the verdict
    (the callback, when there is one, then finds the run final)."""
    media = stored_media()
    run = AnalysisRunFactory(media=media, run_number=1, status=RunStatus.QUEUED)
    Media.objects.filter(pk=media.pk).update(latest_run=run, status=RunStatus.QUEUED)
    analyses = [DeepfakeAnalysisFactory(run=run, model_name=name) for name in MODELS]
    recorder = group_recorder(media.owner_id)

    for analysis in analyses:
        analysis_execute_task.delay(analysis_id=str(analysis.pk))
    done = finished(run, timeout=30)

    assert done.status == RunStatus.ANALYZED
    assert (done.verdict, round(done.fake_score, 3)) == (Verdict.FAKE, 0.7)
    assert Media.objects.get(pk=media.pk).status == RunStatus.ANALYZED
    events = wait_for(
        lambda: (events := recorder.events()) and events[-1]["event"] == "RUN_COMPLETED" and events
    )
    assert [event["event"] for event in events].count("RUN_COMPLETED") == 1
