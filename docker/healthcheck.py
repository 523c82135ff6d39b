"""Container health check: GET a health endpoint of the web process; exit 0 only on a 200.

Usage: python docker/healthcheck.py /api/health|/readyz

It asks over plain HTTP on the loopback interface, as the one process inside the container can,
but names a host the site serves: under production settings Django refuses a Host outside
DJANGO_ALLOWED_HOSTS (400), so `127.0.0.1:8000` would never pass. The first allowed host is used
(".example.org" stands for example.org and its subdomains). Redirects are not followed: the health
paths are exempt from the https redirect, and a redirect here means the configuration is wrong.
Standard library only, so it runs in the image without Django being set up.
"""

from __future__ import annotations

import http.client
import os
import sys

TIMEOUT_SECONDS = 4.0


def health_check_host() -> str:
    for entry in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/api/health"
    port = int(os.environ.get("PORT") or 8000)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers={"Host": health_check_host()})
        response = connection.getresponse()
        response.read()
    except OSError as exc:
        print(f"health check {path}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if response.status != 200:
        print(f"health check {path}: HTTP {response.status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
