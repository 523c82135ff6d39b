"""``python -m mlserver.healthcheck``: exit 0 when the server of this environment answers /ping.

The image's HEALTHCHECK runs it. It reads the same environment as the server, so it asks the
port the server listens on whatever ``MLSERVER_PORT`` says, and it needs only the standard
library (a slim image has no curl).
"""

from __future__ import annotations

import http.client
import sys
from http import HTTPStatus

from mlserver.config import Settings

# Below the HEALTHCHECK timeout, so a hung server is reported as unhealthy, not killed mid-check.
PING_TIMEOUT_SECONDS = 4.0
# A server listening on every interface is asked on loopback.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared with, never bound
LOOPBACK = "127.0.0.1"


def main() -> int:
    settings = Settings.from_env()
    host = LOOPBACK if settings.host in WILDCARD_HOSTS else settings.host
    connection = http.client.HTTPConnection(host, settings.port, timeout=PING_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/ping")
        status = connection.getresponse().status
    except OSError as exc:
        print(f"{host}:{settings.port}/ping: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != HTTPStatus.OK:
        print(f"{host}:{settings.port}/ping answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
