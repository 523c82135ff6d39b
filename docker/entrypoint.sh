#!/usr/bin/env bash
# Container entrypoint: wait for the database, apply migrations (web only, unless told
# otherwise), then become the requested process. It never flushes or resets data.
#
# Usage: entrypoint.sh web|worker|beat|relay|manage <args>|<any command>
set -euo pipefail

role="${1:-web}"
shift || true

DB_WAIT_SECONDS="${DB_WAIT_SECONDS:-60}"
PYTHON="${PYTHON:-python}"

# One connection at a time, without a pool: a pool would wait DB_POOL_TIMEOUT_SECONDS for each
# attempt and hide why the connection failed.
wait_for_database() {
  DB_POOL_MAX_SIZE=0 "$PYTHON" - "$DB_WAIT_SECONDS" <<'PY'
import sys, time
import django
from django.db import connection
from django.db.utils import OperationalError

from drishtiksha.settings import use_environment_settings

# The settings module DJANGO_ENV names, as manage.py, uvicorn and celery choose it.
use_environment_settings()
django.setup()
deadline = time.monotonic() + float(sys.argv[1])
while True:
    try:
        connection.ensure_connection()
        print("database is up", flush=True)
        break
    except OperationalError as exc:
        if time.monotonic() > deadline:
            print(f"database still unreachable after {sys.argv[1]} s: {exc}", file=sys.stderr)
            sys.exit(1)
        time.sleep(1)
PY
}

needs_database() {
  case "$role" in
    web|worker|beat|relay|manage) return 0 ;;
    *) return 1 ;;
  esac
}

if needs_database; then
  wait_for_database
  # Only one process should migrate: by default the web container does.
  if [ "${RUN_MIGRATIONS:-$([ "$role" = web ] && echo 1 || echo 0)}" = "1" ]; then
    "$PYTHON" manage.py migrate --noinput
  fi
fi

case "$role" in
  # X-Forwarded-* headers are believed only from FORWARDED_ALLOW_IPS (the proxy's address): from
  # anyone else they would let a client pick its own address (throttles) and scheme.
  web)
    exec "$PYTHON" -m uvicorn drishtiksha.asgi:application \
      --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
      --ws websockets-sansio --workers "${WEB_CONCURRENCY:-2}" \
      --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" ;;
  worker)
    exec "$PYTHON" -m celery -A drishtiksha worker --loglevel "${LOG_LEVEL:-INFO}" \
      --queues analysis,housekeeping ;;
  beat)
    exec "$PYTHON" -m celery -A drishtiksha beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" ;;
  relay)
    exec "$PYTHON" manage.py relay_progress ;;
  manage)
    exec "$PYTHON" manage.py "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
