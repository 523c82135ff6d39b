"""Fetching a URL a user gave us without letting it reach the platform's own network.

A URL is only as safe as the address its host resolves to at the moment of connecting: checking
the name first and connecting later leaves a window in which DNS can answer differently (DNS
rebinding). So there are two checks, both needed:

- `url_check` refuses a URL whose shape is wrong or whose host resolves, now, to any address that
  is not on the public internet. Callers run it before a request and on every redirect, so that
  obvious refusals are answered at once with a reason the user can read.
- `safe_session` returns a requests Session whose connections resolve the host again, check every
  address, and connect to the address that was checked, never to the name. TLS still verifies the
  certificate against (and sends SNI for) the host name.

Networks in URL_FETCH_ALLOWED_NETWORKS are trusted as if they were public (for tests and for an
operator's own media server); an address inside them may use any port.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """A URL that may not be fetched; `str()` is a reason fit to show the user."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(cidr, strict=False)
        for cidr in getattr(settings, "URL_FETCH_ALLOWED_NETWORKS", [])
    ]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    embedded = _embedded_ipv4(address)
    if embedded is not None and not _is_public(embedded):
        return False
    # `is_global` alone lets multicast through, and for IPv4 says nothing of 100.64/10 in
    # older Pythons; ask every question explicitly.
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
        and not address.is_private
        and address not in ipaddress.ip_network("100.64.0.0/10")
    )


def _is_allowed(address: IPAddress) -> bool:
    candidates = [address]
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        candidates.append(embedded)
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in _allowed_networks()
    )


def _parse_address(raw: str) -> IPAddress:
    # getaddrinfo may give a scoped IPv6 address ("fe80::1%eth0"); the scope is not part of it.
    return ipaddress.ip_address(raw.split("%", 1)[0])


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"The address {host} could not be found.") from error
    addresses = list(dict.fromkeys(_parse_address(answer[4][0]) for answer in answers))
    if not addresses:
        raise UnsafeUrl(f"The address {host} could not be found.")
    return addresses


def _addresses_check(host: str, port: int, *, default_port: int | None) -> list[IPAddress]:
    """Every address `host` resolves to, if every one may be reached on `port`."""
    addresses = _resolve(host, port)
    for address in addresses:
        if _is_allowed(address):
            continue
        if not _is_public(address):
            raise UnsafeUrl(
                f"The address {host} points to a private or reserved network address, "
                "which cannot be fetched."
            )
        if port != default_port and port not in settings.URL_FETCH_ALLOWED_PORTS:
            raise UnsafeUrl(f"Port {port} cannot be fetched.")
    return addresses


def url_check(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """Refuse (with `UnsafeUrl`) a URL that may not be fetched; return if it may, right now."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl("The link is not a valid URL.") from error
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        allowed = " or ".join(f"{name}://" for name in schemes)
        raise UnsafeUrl(f"Only {allowed} links can be fetched.")
    if not parts.hostname:
        raise UnsafeUrl("The link has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Links with a user name or password in them cannot be fetched.")
    default_port = DEFAULT_PORTS.get(scheme)
    _addresses_check(parts.hostname, port or default_port, default_port=default_port)


class _CheckedConnectionMixin:
    """Resolve, check every address, then connect to a checked address, never to the name."""

    default_port: int

    def _new_conn(self) -> socket.socket:
        addresses = _addresses_check(self._dns_host, self.port, default_port=self.default_port)
        error: OSError = OSError("no address to connect to")
        for address in addresses:
            try:
                # A numeric host: create_connection asks no DNS server.
                return urllib3_connection.create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as failure:
                error = failure
        # The errors urllib3 itself raises, so that requests reports them as it always does.
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        # A proxy would connect on our behalf to addresses this module never sees.
        raise UnsafeUrl("Links cannot be fetched through a proxy.")


def safe_session() -> requests.Session:
    """A Session that connects only to addresses `url_check` would accept, checked at connect."""
    session = requests.Session()
    session.trust_env = False  # no proxies, .netrc credentials or CA bundles from the environment
    adapter = CheckedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
