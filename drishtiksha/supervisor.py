"""The process supervisor behind `make run`: start services, prefix their output, restart crashes.

Each service is an argv list exec'd directly (no shell), so the pid it is logged with is the
service's own and a signal sent to it reaches the service. Each runs in a session of its own, so
that stopping it also stops whatever it forked (Celery's pool processes), and so that a Ctrl-C in
the terminal reaches only the supervisor, which then stops every service.

A service that crashes (exits non-zero or is killed by a signal) is restarted after 1 s, 2 s,
4 s ... (at most `BACKOFF_MAX_SECONDS`), and the others keep running. After `RESTART_LIMIT`
restarts of one service within `RESTART_WINDOW_SECONDS` (5 within 10 minutes) it is considered
broken: every service is stopped and `run()` answers 1. A service that exits with code 0 has
stopped by itself (or was told to) and is not restarted. Ctrl-C, SIGTERM or SIGHUP (the terminal
closed; the services, having no terminal, would not hear of it) stops every service (SIGTERM, then
SIGKILL after `STOP_GRACE_SECONDS`) and `run()` answers 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 10 * 60
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
STOP_GRACE_SECONDS = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How often exits, due restarts and stop requests are looked at.
POLL_INTERVAL_SECONDS = 0.1
# Reading a service's output ends at EOF; a daemon it left behind may hold the pipe open.
OUTPUT_DRAIN_SECONDS = 2.0
SUPERVISOR_NAME = "system"
COLOURS = ("36", "33", "32", "35", "34", "31", "96", "93")


@dataclass
class _Service:
    name: str
    argv: list[str]
    colour: str
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = None
    restart_at: float | None = None
    restarts: list[float] = field(default_factory=list)


def describe_exit(returncode: int) -> str:
    """How a service ended, from its `Popen.returncode`: "exited with code 1", "was killed by …"."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class Supervisor:
    """Run `processes` (name → argv) until they are stopped or one of them keeps crashing."""

    def __init__(
        self,
        processes: dict[str, list[str]],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        out: IO[str] | None = None,
        restart_limit: int = RESTART_LIMIT,
        restart_window_seconds: float = RESTART_WINDOW_SECONDS,
        backoff_first_seconds: float = BACKOFF_FIRST_SECONDS,
        backoff_max_seconds: float = BACKOFF_MAX_SECONDS,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
    ) -> None:
        self._services = [
            _Service(name, list(argv), COLOURS[index % len(COLOURS)])
            for index, (name, argv) in enumerate(processes.items())
        ]
        self._env = env
        self._cwd = cwd
        self._out = out or sys.stdout
        self._colour = self._out.isatty()
        self._width = max([len(SUPERVISOR_NAME), *(len(name) for name in processes)])
        self._restart_limit = restart_limit
        self._restart_window = restart_window_seconds
        self._backoff_first = backoff_first_seconds
        self._backoff_max = backoff_max_seconds
        self._stop_grace = stop_grace_seconds
        self._write_lock = threading.Lock()
        # Set from signal handlers, so a plain attribute: an Event or a lock taken there could
        # deadlock against the main thread holding it.
        self._stop_reason: str | None = None

    def run(self) -> int:
        """Start every service and supervise them; 0 when stopped on request, 1 on failure."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            failed = not all(self._start(service) for service in self._services)
            while not failed and self._stop_reason is None and self._anything_left():
                time.sleep(POLL_INTERVAL_SECONDS)
                failed = not self._tend()
            if self._stop_reason is not None:
                self._say(f"{self._stop_reason}: stopping everything")
            self._stop_all()
            return 1 if failed else 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def request_stop(self, reason: str) -> None:
        """Stop every service and make `run()` return 0; callable from any thread."""
        self._stop_reason = self._stop_reason or reason

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.request_stop(f"{signal.Signals(signum).name} received")

    def _start(self, service: _Service) -> bool:
        service.restart_at = None
        try:
            service.process = subprocess.Popen(  # noqa: S603 - argv from the runner's own plan
                service.argv,
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self._say(f"{service.name} could not be started ({exc}): stopping everything")
            return False
        service.reader = threading.Thread(
            target=self._relay_output,
            args=(service.name, service.colour, service.process.stdout),
            name=f"output-{service.name}",
            daemon=True,
        )
        service.reader.start()
        self._say(f"{service.name} started with pid {service.process.pid}")
        return True

    def _tend(self) -> bool:
        """Handle services that ended and restarts that are due; False when one keeps crashing."""
        now = time.monotonic()
        for service in self._services:
            if service.restart_at is not None:
                if now >= service.restart_at and not self._start(service):
                    return False
            elif (
                service.process is not None
                and _has_exited(service.process)
                and not self._after_exit(service, now)
            ):
                return False
        return True

    def _after_exit(self, service: _Service, now: float) -> bool:
        process = service.process
        service.process = None
        why = f"{service.name} {describe_exit(_reap(process))}"
        if process.returncode == 0:
            self._say(f"{why}; not restarting it")
            return True
        service.restarts = [at for at in service.restarts if now - at < self._restart_window]
        if len(service.restarts) >= self._restart_limit:
            self._say(
                f"{why}; it was restarted {len(service.restarts)} times within"
                f" {_duration(self._restart_window)} (limit {self._restart_limit}):"
                " stopping everything"
            )
            return False
        delay = min(self._backoff_first * 2 ** len(service.restarts), self._backoff_max)
        service.restarts.append(now)
        service.restart_at = now + delay
        self._say(
            f"{why}; restarting in {_duration(delay)} (restart {len(service.restarts)} of"
            f" {self._restart_limit} within {_duration(self._restart_window)})"
        )
        return True

    def _anything_left(self) -> bool:
        return any(s.process is not None or s.restart_at is not None for s in self._services)

    def _stop_all(self) -> None:
        running = [s for s in self._services if s.process is not None]
        for service in running:
            if not _has_exited(service.process):
                self._say(f"stopping {service.name} (pid {service.process.pid})")
            _signal_group(service.process, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_grace
        while time.monotonic() < deadline and not all(_has_exited(s.process) for s in running):
            time.sleep(POLL_INTERVAL_SECONDS)
        for service in running:
            if not _has_exited(service.process):
                self._say(
                    f"{service.name} still running after {_duration(self._stop_grace)}:"
                    " sending SIGKILL"
                )
            _reap(service.process)
        for service in self._services:
            if service.reader is not None:
                service.reader.join(OUTPUT_DRAIN_SECONDS)
        for service in running:
            returncode = service.process.returncode
            # uvicorn ends a graceful stop by re-raising the SIGTERM it was sent: that is no crash.
            stopped = returncode in {0, -signal.SIGTERM}
            self._say(f"{service.name} {'stopped' if stopped else describe_exit(returncode)}")
            service.process = None

    def _relay_output(self, name: str, colour: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self._write(name, colour, raw.decode(errors="replace").rstrip())

    def _say(self, message: str) -> None:
        self._write(SUPERVISOR_NAME, "1", message)

    def _write(self, name: str, colour: str, line: str) -> None:
        prefix = f"{time.strftime('%H:%M:%S')} {name:<{self._width}} |"
        if self._colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self._write_lock:
            self._out.write(f"{prefix} {line}\n")
            self._out.flush()


def _has_exited(process: subprocess.Popen) -> bool:
    """Whether the service ended, without reaping it: its pid stays reserved until `_reap`."""
    try:
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        return os.waitid(os.P_PID, process.pid, flags) is not None
    except ChildProcessError:  # already reaped
        return True


def _reap(process: subprocess.Popen) -> int:
    """SIGKILL what is left of the service's group (what it forked is useless without it, and may
    hold its port), then collect its exit status."""
    _signal_group(process, signal.SIGKILL)
    return process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    # The service leads its own session, so its group id is its pid. Until the service is reaped
    # that id cannot be given to another process, so this never reaches an unrelated one.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
