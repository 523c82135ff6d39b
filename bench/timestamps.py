"""Timestamp benchmark: CPU to read a page's timestamps, Django's loader against psycopg's.

Django registers a Python `timestamptz` loader on every connection; `drishtiksha/postgresql/`
gives each cursor psycopg's compiled one back when both sides are in UTC (issue 16). This reads
the same rows of `--timestamps` timestamps through both, interleaved in one process so that a
noisy machine slows both alike, and prints the CPU time per query of each and their ratio.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/timestamps.py

Needs only a PostgreSQL server (DATABASE_URL); nothing is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUERY = (
    "SELECT timestamptz '2026-01-01 00:00:00+00' - make_interval(secs => i * 37.123457)"
    " FROM generate_series(1, %s) AS s(i)"
)


def _cpu_ms_per_query(cursor, *, timestamps: int, queries: int) -> float:
    started = time.process_time()
    for _ in range(queries):
        cursor.execute(QUERY, [timestamps])
        cursor.fetchall()
    return (time.process_time() - started) * 1000 / queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timestamps", type=int, default=380, help="timestamps per query")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--queries", type=int, default=50, help="queries per round and loader")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drishtiksha.settings.development")
    import django

    django.setup()
    from django.db import connection

    from drishtiksha.postgresql.base import _PSYCOPG_LOADER, TIMESTAMPTZ_OID

    if connection.vendor != "postgresql":
        print("DATABASE_URL must name a PostgreSQL database", file=sys.stderr)
        return 2
    connection.ensure_connection()
    # A raw cursor keeps the connection's adapters: Django's loader, as stock Django reads.
    stock = connection.connection.cursor()
    compiled = connection.connection.cursor()
    compiled.adapters.register_loader(TIMESTAMPTZ_OID, _PSYCOPG_LOADER)
    stock.execute(QUERY, [3])
    compiled.execute(QUERY, [3])
    if stock.fetchall() != compiled.fetchall():
        print("the two loaders disagree on the same rows", file=sys.stderr)
        return 1

    figures: dict[str, list[float]] = {"django": [], "psycopg": []}
    for _ in range(args.rounds):
        for name, cursor in (("django", stock), ("psycopg", compiled)):
            figures[name].append(
                _cpu_ms_per_query(cursor, timestamps=args.timestamps, queries=args.queries)
            )
    django_ms = statistics.median(figures["django"])
    psycopg_ms = statistics.median(figures["psycopg"])
    print(f"{args.timestamps} timestamps per query, {args.rounds} x {args.queries} queries each")
    print(f"  Django's loader (baseline):  {django_ms:.2f} ms CPU per query (median of rounds)")
    print(f"  psycopg's compiled loader:   {psycopg_ms:.2f} ms CPU per query")
    saved = django_ms - psycopg_ms
    print(f"  ratio: {django_ms / psycopg_ms:.1f}x, {saved:.2f} ms saved per query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
