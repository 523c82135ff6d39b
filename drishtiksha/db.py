"""Database connections of the web process, around work that does not need one."""

from __future__ import annotations

from django.db import connection


def connection_give_back() -> None:
    """Return this request's database connection to the pool until its next query.

    For a request about to wait on something slow that is not the database, such as an upload
    body that may take minutes to arrive: authentication has already used a connection, and
    holding it meanwhile would leave other requests waiting for one (DB_POOL_MAX_SIZE). Inside
    a transaction nothing is given back. Without a pool the connection is closed and the next
    query opens one.
    """
    if not connection.in_atomic_block:
        connection.close()
