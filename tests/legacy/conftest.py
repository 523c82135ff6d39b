"""A real source database built from the Node version's schema, and a file server standing in
for Cloudinary."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

SCHEMA_SQL = Path(__file__).with_name("prisma_schema.sql")
SOURCE_TABLES = ("User", "Media", "AnalysisRun", "DeepfakeAnalysis", "ServerHealth")


def _server_params() -> dict[str, str]:
    config = settings.DATABASES["default"]
    return {
        "host": config.get("HOST") or "127.0.0.1",
        "port": str(config.get("PORT") or 5432),
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or "",
    }


def _admin_connect() -> psycopg.Connection:
    params = {key: value for key, value in _server_params().items() if value}
    return psycopg.connect(dbname="postgres", autocommit=True, **params)


def source_url(name: str) -> str:
    params = _server_params()
    secret = f":{quote(params['password'])}" if params["password"] else ""
    return f"postgres://{quote(params['user'])}{secret}@{params['host']}:{params['port']}/{name}"


def table_fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every row's text, per source table."""
    fingerprints = {}
    with psycopg.connect(url) as connection:
        for table in SOURCE_TABLES:
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                "FROM {} t"
            ).format(sql.Identifier(table))
            fingerprints[table] = connection.execute(query).fetchone()
    return fingerprints


@pytest.fixture
def legacy_database() -> Iterator[str]:
    """A fresh database with the Node version's schema and no rows; its URL. Dropped afterwards."""
    name = f"legacy_src_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = source_url(name)
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(SCHEMA_SQL.read_text())
        yield url
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on localhost serving a folder: (base URL, folder)."""
    folder = tmp_path / "cdn"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
