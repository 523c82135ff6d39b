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
