"""A database server that accepts connections but never answers (a failover half done, a stuck
proxy) makes the caller fail within DB_CONNECT_TIMEOUT_SECONDS instead of hanging it. A worker
hung there would keep renewing its analysis lease, and the reaper would never take over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from django.conf import settings

CONNECT = (
    "import django; django.setup(); from django.db import connection; "
    "connection.ensure_connection()"
)


def test_a_server_that_never_answers_fails_the_connection_instead_of_hanging_it():
    # The kernel completes the TCP handshake for a listening socket nobody accepts on: the client
    # is connected and then waits for a server greeting that never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-c", CONNECT],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "drishtiksha.settings.test",
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/drishtiksha",
                "DB_CONNECT_TIMEOUT_SECONDS": "2",
                # libpq's own timeout, not the pool's wait (by default as long): with a pool the
                # two race and either may report first.
                "DB_POOL_MAX_SIZE": "0",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert completed.returncode != 0
    assert "OperationalError" in completed.stderr
    assert "timeout expired" in completed.stderr
