"""Where webhooks may be sent: public addresses only, unless the operator opens a range.

An admin-given URL is a request the server makes on the admin's behalf from inside the
network (server-side request forgery). By default a delivery may not reach loopback, private,
link-local (the cloud metadata service at 169.254.169.254 included), shared (CGNAT),
unique-local, unspecified, multicast, reserved or otherwise non-global addresses, in any
spelling: decimal (``2130706433``), short (``127.1``), octal, hex, IPv4 inside IPv6 (mapped,
compatible, NAT64, 6to4), or a ``localhost`` name (RFC 6761 section 6.3).
``TOKENWARD_WEBHOOK_ALLOWED_NETWORKS`` opens ranges on purpose (a receiver on the same network).

The rules are checked twice: on the URL when an endpoint is added (literal addresses), and on
every address a name resolves to when a delivery connects (see
:mod:`tokenward.notify.transport`), so a name that later resolves elsewhere (DNS rebinding)
still cannot reach a refused address.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from tokenward.domain.errors import InvalidInput

__all__ = [
    "Address",
    "AddressRules",
    "Network",
    "check_destination",
    "literal_address",
    "parse_networks",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAMED: tuple[tuple[str, str], ...] = (
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("169.254.0.0/16", "link-local"),  # the cloud metadata service lives here
    ("fe80::/10", "link-local"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("fc00::/7", "unique-local"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_REFUSED = tuple((ipaddress.ip_network(net), reason) for net, reason in _NAMED)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: an IPv4 address in the low bits
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 section 2.5.5.1 (deprecated)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any: a
    connection to it may reach that IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or address in _COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def _named(address: Address) -> str | None:
    for network, reason in _REFUSED:
        if address.version == network.version and address in network:
            return reason
    return None


def _public(address: Address) -> bool:
    return address.is_global and not (address.is_multicast or address.is_reserved)


@dataclasses.dataclass(frozen=True)
class AddressRules:
    """The refused ranges, less the ``allowed`` networks the operator opened."""

    allowed: tuple[Network, ...] = ()

    def refusal(self, address: Address) -> str | None:
        """Why a delivery may not connect to ``address`` (``"loopback"``, ``"private"``, …),
        or None if it may."""
        address = _unscoped(address)
        embedded = _embedded_ipv4(address)
        candidates = [address] if embedded is None else [address, embedded]
        if any(self._allows(candidate) for candidate in candidates):
            return None
        named = next((r for r in map(_named, candidates) if r is not None), None)
        # Where an IPv6 address carries an IPv4 one, the IPv4 one is where it leads.
        return named or (None if _public(embedded or address) else "non-public")

    def _allows(self, address: Address) -> bool:
        return any(address.version == n.version and address in n for n in self.allowed)

    def check_host(self, host: str) -> None:
        """Raise :class:`InvalidInput` naming ``url`` if ``host`` is, in any spelling, an
        address these rules refuse. Other names are checked when a delivery resolves them."""
        address = literal_address(host)
        reason = None if address is None else self.refusal(address)
        if reason is not None:
            raise InvalidInput(
                "url",
                f"points to a {reason} address ({address}); webhooks go to public addresses "
                "unless TOKENWARD_WEBHOOK_ALLOWED_NETWORKS opens the range",
            )


def check_destination(url: str, rules: AddressRules) -> None:
    """Raise :class:`InvalidInput` naming ``url`` if it holds credentials (``user:pw@``: they
    would be stored and sent in clear) or points, in any spelling, at a refused address.
    ``url`` is an absolute http(s) URL already."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise InvalidInput(
            "url",
            "must not hold credentials (user:password@); put a token in "
            "the path or query, or check the signature instead",
        )
    rules.check_host(parts.hostname or "")


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells, in any form the system's resolver accepts without asking
    DNS (``inet_aton``: decimal, short, octal, hex), or ``127.0.0.1`` for a ``localhost``
    name; None for any other name."""
    host = _ascii(host).rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        if ":" in host:
            return ipaddress.IPv6Address(host)
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR ranges (``10.1.0.0/16``, ``::1``); raise ValueError naming a bad one."""
    return tuple(ipaddress.ip_network(value.strip()) for value in values if value.strip())


def _ascii(host: str) -> str:
    # An internationalised name is checked in the form it is resolved in (IDNA maps, e.g.,
    # full-width digits to ASCII ones).
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _unscoped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address
