"""Verifying tokens at a resource server: introspection on a cache miss, a freshness-guarded
cache fed by the tokenward server's event stream, failing closed when freshness is unproven.

The cache is the server's own (:class:`~tokenward.propagation.cache.GuardedCache`): an entry is
served only while the last heartbeat vouches for freshness within ``max_staleness``; revocation
events evict; a fill read before an event or before the stream (re)started is dropped.

In front of it sits a memo of exact ``Authorization`` values already verified, so a repeat
request skips parsing, checksums and expiry formatting. It is keyed by the SHA-256 of the header
value, never by the value: the process does not keep a store of live secrets (one hash of a
short header costs ~0.5 µs, under 1% of a request). The memo decides nothing by itself: a
remembered value is used only while the guarded cache still returns the very caller remembered
with it (fresh, not evicted) and the token has not expired.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from tokenward.domain import tokens as token_format
from tokenward.domain.errors import InvalidToken, StoreUnavailable
from tokenward.propagation.cache import GuardedCache
from tokenward.sdk._events import EventStream
from tokenward.sdk._transport import Kept

__all__ = ["Caller", "Remembered", "RemoteVerifier", "expiry_value"]

_Flight = tuple[asyncio.AbstractEventLoop, str, int]  # loop, digest, cache generation


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who presented a valid token, as a handler sees it."""

    token_id: str
    user_id: str
    username: str
    scopes: frozenset[str]
    expires_at: datetime | None

    def has_scope(self, scope: str) -> bool:
        """Whether the token carries ``scope``."""
        return scope in self.scopes


class Remembered:
    """A verified ``Authorization`` value: its caller, the token's digest, and the
    ``Tokenward-Token-Expires`` value formatted once, ready for ASGI and WSGI."""

    __slots__ = ("caller", "digest", "expires_at", "header", "header_text")

    def __init__(self, caller: Caller, digest: str) -> None:
        self.caller = caller
        self.digest = digest
        expires = caller.expires_at
        # A float compare per request instead of building a datetime.
        self.expires_at = float("inf") if expires is None else expires.timestamp()
        self.header_text = expiry_value(caller)
        self.header = (b"tokenward-token-expires", self.header_text.encode())


class RemoteVerifier:
    """Checks tokens against the tokenward server at ``url`` with ``key`` (an admin key with
    scope ``introspect``). Thread-safe; one per process.

    ``transport`` is what httpx's clients take: every request of the verifier (introspection,
    sync and async, and the event stream) goes through it instead of the network, as in tests
    (``httpx.MockTransport``) or in process (``httpx.ASGITransport`` for an async app). A
    transport that is only sync or only async serves only the clients of that kind."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        max_staleness: float = 1.0,
        capacity: int = 100_000,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = key
        self.timeout = timeout
        self._transport = None if transport is None else Kept(transport)
        self.cache: GuardedCache[Caller] = GuardedCache(
            max_staleness, capacity, time.monotonic, lambda caller: caller.user_id
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Digests of exact header values already verified. Bounded like the cache; holds no
        # decision of its own (see recall), so a stale entry costs one slow path, never a wrong
        # answer.
        self._remembered: dict[bytes, Remembered] = {}
        self._in_flight: dict[_Flight, asyncio.Task[Caller]] = {}
        self._threads_in_flight: dict[tuple[str, int], concurrent.futures.Future[Caller]] = {}

    def __repr__(self) -> str:  # never the key
        return f"RemoteVerifier(url={self.url!r})"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Follow the server's event stream (idempotent); until the first heartbeat the cache
        serves nothing and every token is introspected."""
        if self._thread is not None:  # the usual case, without taking the lock
            return
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                stream = EventStream(
                    self.url, self._key, self.timeout, self.cache, self._stop, self._transport
                )
                self._thread = threading.Thread(
                    target=stream.follow, name="tokenward-sdk-events", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop following the event stream (a later :meth:`start` follows it again)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    # -- verifying --------------------------------------------------------------------------

    def check_cached(self, token: str) -> Caller | str:
        """The caller from a fresh cache, or the digest to introspect. Raises
        :class:`InvalidToken` for a malformed token or an expired cached one. No I/O."""
        if token_format.parse(token) is None:
            raise InvalidToken()
        digest = token_format.digest(token)
        caller = self.cache.get(digest)
        if caller is None:
            return digest
        _check_expiry(caller)
        return caller

    def recall(self, authorization: bytes) -> Remembered | None:
        """What :meth:`remember` stored for this exact ``Authorization`` value, if the guarded
        cache still holds that very caller (fresh, not evicted by an event) and the token has
        not expired; otherwise ``None``, and the caller takes the full path. No I/O."""
        key = hashlib.sha256(authorization).digest()
        remembered = self._remembered.get(key)
        if remembered is None:
            return None
        if (
            time.time() < remembered.expires_at
            and self.cache.get(remembered.digest) is remembered.caller
        ):
            return remembered
        # Revoked, expired, evicted or unproven: forget it now, not at eviction.
        self._remembered.pop(key, None)
        return None

    def remember(self, authorization: bytes, token: str, caller: Caller) -> Remembered:
        """Note that ``authorization`` (a whole header value) carries ``token``, just verified
        as ``caller``, so that :meth:`recall` can answer the next request with it."""
        remembered = Remembered(caller, token_format.digest(token))
        memo = self._remembered
        if len(memo) >= self.cache.capacity:
            memo.pop(next(iter(memo), b""), None)  # the oldest: dicts keep insertion order
        memo[hashlib.sha256(authorization).digest()] = remembered
        return remembered

    def verify(self, token: str) -> Caller:
        """Sync: the caller, or :class:`InvalidToken`, or :class:`StoreUnavailable`."""
        self.start()
        checked = self.check_cached(token)
        if isinstance(checked, Caller):
            return checked
        return self._introspect_once(token, checked)

    def _introspect_once(self, token: str, digest: str) -> Caller:
        """Single flight across threads, on the same terms as :meth:`aintrospect`."""
        generation = self.cache.generation
        key = (digest, generation)
        with self._lock:
            flight = self._threads_in_flight.get(key)
            leading = flight is None
            if flight is None:
                flight = self._threads_in_flight[key] = concurrent.futures.Future()
        if not leading:
            return flight.result()  # the leader's caller, or its exception raised here too
        try:
            caller = self._introspect(token, digest, generation)
        except BaseException as error:
            flight.set_exception(error)
            raise
        else:
            flight.set_result(caller)
            return caller
        finally:
            with self._lock:
                del self._threads_in_flight[key]

    def _introspect(self, token: str, digest: str, generation: int) -> Caller:
        try:
            with httpx.Client(timeout=self.timeout, transport=self._transport) as client:
                answer = client.post(**self._introspection(token))
        except httpx.HTTPError as error:
            raise StoreUnavailable(type(error).__name__) from None
        return self._settle(digest, answer, generation)

    async def averify(self, token: str) -> Caller:
        """Async twin of :meth:`verify`."""
        self.start()
        checked = self.check_cached(token)
        if isinstance(checked, Caller):
            return checked
        return await self.aintrospect(token, checked)

    async def aintrospect(self, token: str, digest: str) -> Caller:
        """Ask the server about a token the cache does not hold (``digest`` is its digest).

        Concurrent misses for one token share one introspection (single flight), but only
        among requests that saw the same cache generation: one that arrives after an event
        was applied asks afresh, so sharing never hands out an answer older than what a
        cache hit could have given it."""
        loop = asyncio.get_running_loop()  # a task belongs to one loop; tests run several
        generation = self.cache.generation
        key = (loop, digest, generation)
        flight = self._in_flight.get(key)
        if flight is None:
            # A task of its own: a client that disconnects must not cancel it for the others.
            flight = loop.create_task(self._aintrospect(token, digest, generation))
            self._in_flight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: _Flight, flight: asyncio.Task[Caller]) -> None:
        self._in_flight.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # retrieved even if every waiter left, so asyncio stays quiet

    async def _aintrospect(self, token: str, digest: str, generation: int) -> Caller:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                answer = await client.post(**self._introspection(token))
        except httpx.HTTPError as error:
            raise StoreUnavailable(type(error).__name__) from None
        return self._settle(digest, answer, generation)

    def _introspection(self, token: str) -> dict[str, Any]:
        return {
            "url": f"{self.url}/v1/introspect",
            "data": {"token": token},
            "headers": {"Authorization": f"Bearer {self._key}"},
        }

    def _settle(self, digest: str, answer: httpx.Response, generation: int) -> Caller:
        if answer.status_code != 200:
            raise StoreUnavailable(f"introspection answered {answer.status_code}")
        try:
            body = answer.json()
            if not body.get("active"):
                raise InvalidToken()
            exp = body.get("exp")
            caller = Caller(
                token_id=body["tokenward_id"],
                user_id=body["sub"],
                username=body["username"],
                scopes=frozenset(body.get("scope", "").split()),
                expires_at=None if exp is None else datetime.fromtimestamp(exp, UTC),
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
            # An answer that proves nothing (a proxy's page, a truncated body) fails closed.
            raise StoreUnavailable("introspection answer unreadable") from error
        _check_expiry(caller)
        self.cache.fill(digest, caller, generation)
        return caller


def expiry_value(caller: Caller) -> str:
    """The ``Tokenward-Token-Expires`` value: RFC 3339 in UTC, or ``never``."""
    expires = caller.expires_at
    return "never" if expires is None else expires.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_expiry(caller: Caller) -> None:
    if caller.expires_at is not None and caller.expires_at <= datetime.now(UTC):
        raise InvalidToken("expired")
