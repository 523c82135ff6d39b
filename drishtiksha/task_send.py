"""Sending a Celery task by its name, for services that must not import the task's module.

Each app's tasks are named `<app>.<the service they run>` in its `task_names.py`. A tasks module
imports its services, so the services enqueue by name through the Celery app instead of
importing the tasks. Queues come from CELERY_TASK_ROUTES, which routes by name whether or not the
sending process has imported the task; time limits and other task options apply in the worker.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from celery.canvas import Signature


def task_signature(name: str, /, **kwargs: Any) -> Signature:
    """The task called `name` with these keyword arguments, ready to send or to put in a chord."""
    return current_app.signature(name, kwargs=kwargs)


def task_send(name: str, /, kwargs: dict[str, Any], **options: Any) -> None:
    """Send the task called `name` with `kwargs`; `options` as `apply_async` takes them.

    Nothing here ever reads a sent task's result, so none is kept: a send that expects one
    subscribes the sender to the result's channel on the result backend, which in a web process
    meant a subscription (and, from a request's own thread, a connection) per upload that no
    one ever read. Chords are the exception, and go through `task_signature`: the chord's
    callback counts its header's results.
    """
    task_signature(name, **kwargs).apply_async(ignore_result=True, **options)
