"""What the benchmark scripts share: a free port, percentiles, a process tree and a scratch
PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def process_tree(pid: int) -> list[int]:
    """`pid` and each of its descendants that is still running, parents first (from /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process has gone
        found.append(current)
        for task in tasks:
            # A thread may end meanwhile (a web server starts one per request).
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def processes_stop(processes: Iterable[subprocess.Popen], *, timeout: float = 30) -> None:
    """SIGTERM each still-running process's group (each was started in a session of its own),
    then SIGKILL any group whose leader has not exited within `timeout` seconds."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class ScratchDatabase:
    """A scratch database on DATABASE_URL's server, created on entry (it must not exist yet,
    unless `create` is False) and dropped on exit unless `keep`."""

    def __init__(
        self,
        server_url: str,
        name: str | None = None,
        *,
        prefix: str = "bench",
        create: bool = True,
        keep: bool = False,
    ) -> None:
        parts = urlsplit(server_url)
        self.name = name or f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.create, self.keep = create, keep
        self.admin_url = parts._replace(path="/postgres").geturl()
        self.url = parts._replace(path=f"/{self.name}").geturl()

    def __enter__(self) -> ScratchDatabase:
        if self.create:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc) -> None:
        if self.keep:
            print(f"kept database {self.name}")
            return
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
