"""The Celery application. Tasks live in each app's `tasks` module and carry explicit names."""

import os

from celery import Celery
from celery.signals import celeryd_init, task_postrun, task_prerun, worker_init

from drishtiksha.settings import use_environment_settings

use_environment_settings()

app = Celery("drishtiksha")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _keep_database_connections_in_workers(**_kwargs: object) -> None:
    """Workers keep their database connections between tasks (WORKER_DB_CONN_MAX_AGE).

    The web process takes one from its pool per request (DB_POOL_MAX_SIZE) because under ASGI
    each request may run in its own thread; a worker process runs one task at a time, so a
    persistent connection there saves a reconnect per task (measured in bench/pipeline.py). Runs
    in the parent before the pool forks, so every pool process inherits it.
    """
    from django.conf import settings

    for database in settings.DATABASES.values():
        # A pool's connections and threads would not survive the fork, and one process running
        # one task at a time needs one connection, not a pool.
        database.get("OPTIONS", {}).pop("pool", None)
        database["CONN_MAX_AGE"] = settings.WORKER_DB_CONN_MAX_AGE


@celeryd_init.connect
def _give_way_to_the_web_server(**_kwargs: object) -> None:
    """Lower a `celery worker`'s CPU priority (WORKER_NICENESS) before its pool forks.

    The pool processes and the ffprobe/ffmpeg they start inherit it: with the web server on the
    same machine, a burst of uploads then queues analyses instead of slowing every page. Sent by
    the `celery worker` command only, not by a worker embedded in another process.
    """
    from django.conf import settings

    if settings.WORKER_NICENESS > 0:
        os.nice(settings.WORKER_NICENESS)


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(**_kwargs: object) -> None:
    """Treat each task like a request: drop connections past DB_CONN_MAX_AGE or broken ones.

    With CELERY_DB_REUSE_MAX set, Celery itself no longer closes connections after every task,
    which saves a reconnect per task; this keeps the reuse within Django's own limits.
    """
    from django.db import close_old_connections

    close_old_connections()
