"""The supervisor behind `make run`, over real processes: tiny Python services that crash on cue.

Each service appends its own pid to a file when it starts, so a test can count restarts and
check that the pid the supervisor logs is the service's, not a shell's.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drishtiksha.runner import BASE_DIR
from drishtiksha.supervisor import Supervisor
from tests.fixtures.pipeline import wait_for

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 30
FAST_BACKOFF = 0.05


def _service(pids: Path, *then: str, first: tuple[str, ...] = ()) -> list[str]:
    """argv of a Python service: run `first`, append its pid to `pids`, print which start this
    is ("start 2"), then run `then`."""
    code = "\n".join(
        [
            "import os, pathlib, signal, subprocess, sys, time",
            *first,
            f"pids = pathlib.Path({str(pids)!r})",
            "with pids.open('a') as record: record.write(f'{os.getpid()}\\n')",
            "starts = len(pids.read_text().split())",
            "print(f'start {starts}', flush=True)",
            *then,
        ]
    )
    return [sys.executable, "-c", code]


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _is_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its parent is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(autouse=True)
def _no_service_left_behind(tmp_path) -> Iterator[None]:
    """After each test (and its assertions), kill any recorded service that is still running."""
    yield
    for record in tmp_path.iterdir():
        for pid in _pids(record):
            if _is_running(pid):
                os.kill(pid, signal.SIGKILL)


def _run_until(supervisor: Supervisor, condition: Callable[[], object]) -> int:
    """Run `supervisor` here (signal handlers need the main thread) until `condition` holds."""

    def watch() -> None:
        try:
            wait_for(condition, timeout=WAIT_SECONDS)
        finally:
            supervisor.request_stop("the test is done")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    returncode = supervisor.run()
    watcher.join()
    return returncode


def test_a_crashed_service_is_restarted_with_backoff_and_the_others_keep_running(tmp_path):
    flaky, steady = tmp_path / "flaky", tmp_path / "steady"
    out = io.StringIO()
    supervisor = Supervisor(
        {
            "flaky": _service(flaky, "sys.exit(1) if starts < 3 else time.sleep(60)"),
            "steady": _service(steady, "time.sleep(60)"),
        },
        out=out,
        backoff_first_seconds=FAST_BACKOFF,
    )

    returncode = _run_until(supervisor, lambda: len(_pids(flaky)) == 3 and _pids(steady))

    log = out.getvalue()
    assert returncode == 0, log
    assert len(_pids(flaky)) == 3, log
    assert len(_pids(steady)) == 1, "a crash of one service must not restart the others"
    assert "flaky exited with code 1; restarting in 0.05 s (restart 1 of 5 within 10 min)" in log
    assert "flaky exited with code 1; restarting in 0.1 s (restart 2 of 5 within 10 min)" in log
    assert "the test is done: stopping everything" in log
    # Each line a service prints comes out prefixed with its name, as it printed it.
    assert re.search(r"^\d\d:\d\d:\d\d flaky  \| start 3$", log, re.MULTILINE), log


def test_a_service_killed_by_a_signal_is_named_with_it_and_logged_with_its_own_pid(tmp_path):
    victim = tmp_path / "victim"
    out = io.StringIO()
    supervisor = Supervisor(
        {"victim": _service(victim, "time.sleep(60)")},
        out=out,
        backoff_first_seconds=FAST_BACKOFF,
    )
    killed: list[int] = []

    def killed_and_back() -> bool:
        pids = _pids(victim)
        if pids and not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
        return len(pids) == 2

    returncode = _run_until(supervisor, killed_and_back)

    log = out.getvalue()
    assert returncode == 0, log
    first, second = _pids(victim)
    # The pids the services reported themselves: each was exec'd directly, with no shell between.
    assert f"victim started with pid {first}" in log
    assert f"victim started with pid {second}" in log
    assert (
        "victim was killed by SIGKILL; restarting in 0.05 s (restart 1 of 5 within 10 min)" in log
    )


def test_a_service_that_keeps_crashing_stops_everything_and_fails(tmp_path):
    crasher, steady = tmp_path / "crasher", tmp_path / "steady"
    out = io.StringIO()
    supervisor = Supervisor(
        {
            "crasher": _service(crasher, "sys.exit(3)"),
            "steady": _service(steady, "time.sleep(60)"),
        },
        out=out,
        restart_limit=2,
        backoff_first_seconds=FAST_BACKOFF,
    )

    returncode = supervisor.run()

    log = out.getvalue()
    assert returncode == 1, log
    assert len(_pids(crasher)) == 3, "started once and restarted twice"
    assert (
        "crasher exited with code 3; it was restarted 2 times within 10 min (limit 2):"
        " stopping everything"
    ) in log
    steady_pid = int(re.search(r"steady started with pid (\d+)", log)[1])
    assert "steady stopped" in log
    assert not _is_running(steady_pid)


def test_a_service_that_exits_cleanly_is_not_restarted(tmp_path):
    oneshot = tmp_path / "oneshot"
    out = io.StringIO()

    returncode = Supervisor({"oneshot": _service(oneshot, "sys.exit(0)")}, out=out).run()

    assert returncode == 0
    assert len(_pids(oneshot)) == 1
    assert "oneshot exited with code 0; not restarting it" in out.getvalue()


SUPERVISE_FROM_ARGV = """
import json, sys
from drishtiksha.supervisor import Supervisor
sys.exit(Supervisor(json.loads(sys.argv[1]), stop_grace_seconds=1).run())
"""


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda signum: signum.name
)
def test_a_stop_signal_ends_every_service_and_what_they_forked(tmp_path, signum):
    polite, grandchild, stubborn = tmp_path / "polite", tmp_path / "grandchild", tmp_path / "stub"
    ignore_sigterm = ("signal.signal(signal.SIGTERM, signal.SIG_IGN)",)
    # It ignores SIGTERM too: only the SIGKILL sent to its parent's whole group can end it.
    forked = _service(grandchild, "time.sleep(60)", first=ignore_sigterm)
    services = {
        "polite": _service(polite, f"subprocess.Popen({forked!r})", "time.sleep(60)"),
        "stubborn": _service(stubborn, "time.sleep(60)", first=ignore_sigterm),
    }
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISE_FROM_ARGV, json.dumps(services)],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _pids(grandchild) and _pids(stubborn), timeout=WAIT_SECONDS)
        supervisor.send_signal(signum)
        log, _ = supervisor.communicate(timeout=WAIT_SECONDS)
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()

    assert supervisor.returncode == 0, log
    assert f"{signum.name} received: stopping everything" in log
    assert "polite stopped" in log
    assert "stubborn still running after 1 s: sending SIGKILL" in log
    assert "stubborn was killed by SIGKILL" in log
    assert not _is_running(_pids(polite)[0])
    assert not _is_running(_pids(stubborn)[0])
    grandchild_pid = _pids(grandchild)[0]
    deadline = time.monotonic() + WAIT_SECONDS
    while _is_running(grandchild_pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # reparented once its parent died; the kill itself was already sent
    assert not _is_running(grandchild_pid), "what a service forked outlived it"
