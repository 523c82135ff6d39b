"""The Celery configuration as the worker and beat actually receive it (`app.conf`, the task
options, the router), not as the settings module spells it: a setting Celery does not read (a
wrong name, a missing CELERY_ namespace) would leave its default in place without a word."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from django.conf import settings

from drishtiksha.celery import app
from drishtiksha.task_send import task_send
from media_analysis.task_names import RUN_DISPATCH
from media_analysis.tasks import (
    analysis_execute_task,
    run_dispatch_task,
    run_finalize_task,
    runs_reap_task,
)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_a_running_analysis_is_never_handed_to_a_second_worker_by_the_broker():
    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]

    # Redis redelivers an unacknowledged message after the visibility timeout; an analysis
    # (acknowledged late) may run up to its hard limit, and a retry waits up to the backoff cap
    # as an unacknowledged message too.
    assert analysis_execute_task.soft_time_limit < analysis_execute_task.time_limit
    assert visibility_timeout > analysis_execute_task.time_limit
    assert visibility_timeout > settings.ANALYSIS_RETRY_BACKOFF_MAX_SECONDS


def test_results_and_chord_state_outlive_the_longest_possible_run():
    # As settings documents it: discovery may wait its whole window, then every analysis may be
    # re-sent by the reaper, each time with its full retry budget at the hard limit plus backoff.
    longest_run = settings.ANALYSIS_DISCOVERY_TIMEOUT_SECONDS + (
        settings.ANALYSIS_REAPER_MAX_REDISPATCHES + 1
    ) * (settings.ANALYSIS_MAX_RETRIES + 1) * (
        analysis_execute_task.time_limit + settings.ANALYSIS_RETRY_BACKOFF_MAX_SECONDS
    )

    assert app.conf.result_backend.startswith("redis://")
    assert _seconds(app.conf.result_expires) > longest_run


def test_workers_take_one_message_at_a_time_with_the_configured_concurrency():
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.worker_concurrency == settings.CELERY_WORKER_CONCURRENCY


def test_an_analysis_is_acknowledged_only_once_done_and_requeued_if_its_worker_dies():
    assert analysis_execute_task.name == "media_analysis.analysis_execute"
    assert analysis_execute_task.acks_late is True
    assert analysis_execute_task.reject_on_worker_lost is True
    assert analysis_execute_task.soft_time_limit == settings.ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS
    assert analysis_execute_task.time_limit == settings.ANALYSIS_TASK_TIME_LIMIT_SECONDS


def test_analyses_and_housekeeping_go_to_separate_queues():
    assert settings.ANALYSIS_QUEUE != settings.HOUSEKEEPING_QUEUE
    assert _queue_of(analysis_execute_task.name) == settings.ANALYSIS_QUEUE
    for task in (run_finalize_task, run_dispatch_task, runs_reap_task):
        assert _queue_of(task.name) == settings.HOUSEKEEPING_QUEUE, task.name
    # Anything not routed explicitly stays off the analysis queue too.
    assert app.conf.task_default_queue == settings.HOUSEKEEPING_QUEUE


def test_beat_sweeps_for_stuck_runs_every_minute():
    (entry,) = (
        entry for entry in app.conf.beat_schedule.values() if entry["task"] == runs_reap_task.name
    )

    assert _seconds(entry["schedule"]) == 60
    # A sweep that waited longer than one interval is dropped: the next one does its work.
    assert entry["options"]["expires"] == _seconds(entry["schedule"])


def test_a_sent_task_keeps_no_result_and_subscribes_to_none():
    # A send that expects a result subscribes the sender to the result's channel; nothing here
    # reads one, and a web process, sending from each request's own thread, opened a connection
    # to subscribe for every upload so.
    queue = f"test-task-send-{uuid.uuid4().hex}"
    backends = []

    def send() -> None:
        task_send(RUN_DISPATCH, {"run_id": str(uuid.uuid4())}, queue=queue)
        backends.append(app.backend)  # the sending thread's own

    for _ in range(2):
        thread = threading.Thread(target=send)
        thread.start()
        thread.join()
    with app.connection_for_write() as connection:
        waiting = connection.SimpleQueue(queue)
        try:
            messages = [waiting.get(timeout=5) for _ in range(2)]
            for message in messages:
                message.ack()
        finally:
            waiting.queue.delete()
            waiting.close()

    assert [m.headers["task"] for m in messages] == [RUN_DISPATCH, RUN_DISPATCH]
    assert all(m.headers["ignore_result"] is True for m in messages)
    assert [backend.result_consumer.subscribed_to for backend in backends] == [set(), set()]
    assert all(backend.result_consumer._pubsub is None for backend in backends)
