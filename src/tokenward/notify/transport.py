"""The connection a webhook delivery makes: the address rules checked on every address a name
resolves to, and the connection made to exactly that checked address.

Resolving once and connecting to the address that was checked is what defeats DNS rebinding:
a name that answers a public address to a check and a private one to the connection never
gets the second lookup. Proxy variables are not used: a proxy would resolve the name itself,
past the check.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from tokenward.domain.addresses import Address, AddressRules

__all__ = [
    "FAILURES",
    "AddressRefused",
    "Connector",
    "GuardedBackend",
    "GuardedTransport",
    "Resolver",
]

# socket.getaddrinfo's shape: (host, port, family, type, ...) -> [(family, type, proto, name,
# sockaddr)], sockaddr[0] being the address.
Resolver = Callable[..., list[tuple[Any, ...]]]


class AddressRefused(Exception):
    """A delivery would connect to an address the rules refuse; nothing was sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, resolving names itself and connecting only to addresses
    the rules allow (all of a name's addresses must be allowed)."""

    def __init__(self, rules: AddressRules, resolve: Resolver = socket.getaddrinfo) -> None:
        self.rules = rules
        self.resolve = resolve
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception = httpcore.ConnectError("no address")
        for address in self.addresses(host, port):
            try:
                return self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure

    def addresses(self, host: str, port: int) -> list[Address]:
        """Every address ``host`` resolves to, once; :class:`AddressRefused` if any is
        refused (a name answering both kinds is not trusted with either)."""
        try:
            found = self.resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise httpcore.ConnectError("the name does not resolve") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        for address in addresses:
            reason = self.rules.refusal(address)
            if reason is not None:
                raise AddressRefused(reason)
        return addresses

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("unix socket")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool with :class:`GuardedBackend`. The answer's
    body is never read: a receiver answers with its status."""

    def __init__(self, backend: GuardedBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=backend, max_connections=1
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        target = httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        )
        sent = httpcore.Request(
            request.method,
            target,
            headers=request.headers.raw,
            content=request.read(),
            extensions=request.extensions,
        )
        answer = self._pool.handle_request(sent)
        answer.close()
        return httpx.Response(answer.status, headers=answer.headers)

    def close(self) -> None:
        self._pool.close()


# Every way a post can fail on the network (no name, no connection, a timeout, TLS, a broken
# answer, a URL httpx cannot use): one class of outcome, so none tells an open port apart.
FAILURES = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    OSError,
)


class Connector:
    """Posts through :class:`GuardedTransport`, with one TLS context (the CA bundle is loaded
    once) and no redirects followed."""

    def __init__(self, rules: AddressRules, resolve: Resolver, timeout: httpx.Timeout) -> None:
        self.backend = GuardedBackend(rules, resolve)
        self.timeout = timeout
        self.ssl_context = httpx.create_ssl_context()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status; :class:`AddressRefused` or one of :data:`FAILURES` else."""
        transport = GuardedTransport(self.backend, self.ssl_context)
        with httpx.Client(
            transport=transport, timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as client:
            return client.post(url, content=body, headers=headers).status_code
