"""The client's address and scheme behind trusted reverse proxies, for the front door.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from a peer in
``TOKENWARD_TRUSTED_PROXIES``; by default no peer is trusted, loopback included, so a client
cannot pick its own address (and with it a fresh failure-limit bucket or a false audit line).
The client is the rightmost address of ``X-Forwarded-For`` that is not itself a trusted hop:
each trusted proxy appends the peer it saw, so everything left of the first untrusted hop was
written by the client and proves nothing (RFC 7239 section 8.3 on the same header's spoofing).

The rewritten ``scope["client"]`` and ``scope["scheme"]`` are what everything after reads: the
audit log, the failure limits, last-used, and the ``Secure`` cookie decision. A request that
arrived over HTTPS (directly, or as a trusted proxy says) is answered with
``Strict-Transport-Security``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from starlette.types import Scope, Send

from tokenward.domain.addresses import Network
from tokenward.domain.answers import with_header

__all__ = ["HSTS", "TrustedProxies", "forwarded_client"]

HSTS = (b"strict-transport-security", b"max-age=31536000")  # a year; no includeSubDomains
_SCHEMES = {"http": "http", "https": "https"}
_CACHE_LIMIT = 4096  # peers remembered as trusted or not


class TrustedProxies:
    """Believes ``X-Forwarded-*`` from ``trusted`` peers only; adds HSTS over HTTPS."""

    def __init__(self, trusted: Sequence[Network]) -> None:
        self.trusted = tuple(trusted)
        self._known: dict[str, bool] = {}

    def believe(self, scope: Scope, send: Send) -> Send:
        """Rewrites ``scope``'s client and scheme as a trusted peer tells them; ``send``, with
        HSTS added when the request came over HTTPS."""
        peer = scope.get("client")
        if self.trusted and peer and self.is_trusted(str(peer[0])):
            _apply(scope, self.is_trusted)
        return with_header(send, HSTS) if scope.get("scheme") == "https" else send

    def is_trusted(self, host: str) -> bool:
        """Whether ``host`` (an address, or anything a server put there) is a trusted proxy."""
        known = self._known.get(host)
        if known is None:
            known = _within(host, self.trusted)
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            self._known[host] = known
        return known


def forwarded_client(peer: str, chain: Sequence[str], trusted: Callable[[str], bool]) -> str:
    """The client address: walking ``chain`` (``X-Forwarded-For``, left to right as sent)
    from the right while each hop is trusted, the first hop that is not. A hop that is not an
    address at all ends the walk at the last address known (a trusted proxy never writes one,
    so it came from the client). ``trusted`` is a predicate on a host string."""
    client = peer
    for hop in reversed(chain):
        if not trusted(client):
            break
        if not _is_address(hop):
            break
        client = hop
    return client


def _apply(scope: Scope, trusted: Callable[[str], bool]) -> None:
    chain, proto = _forwarded(scope["headers"])
    peer = scope["client"]
    if chain:
        host = forwarded_client(str(peer[0]), chain, trusted)
        if host != peer[0]:
            scope["client"] = (host, 0)  # the client's own port is not known here
    if proto is not None:
        scope["scheme"] = proto


def _forwarded(headers: Sequence[tuple[bytes, bytes]]) -> tuple[list[str], str | None]:
    """Every ``X-Forwarded-For`` hop in order (several headers read as one list), and the
    scheme the nearest proxy reports (the last value of the last ``X-Forwarded-Proto``)."""
    chain: list[str] = []
    proto = None
    for name, value in headers:
        if name == b"x-forwarded-for":
            chain += [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
        elif name == b"x-forwarded-proto":
            last = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
            proto = _SCHEMES.get(last, proto)
    return chain, proto


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _within(host: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # "testclient", a unix socket's path: never a trusted proxy
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in trusted)
