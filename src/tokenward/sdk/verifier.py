"""Verifying tokens at a resource server: introspection on a cache miss, a freshness-guarded
cache fed by the tokenward server's event stream, failing closed when freshness is unproven.

The cache is the server's own (:class:`~tokenward.propagation.cache.GuardedCache`): an entry is
served only while the last heartbeat vouches for freshness within ``max_staleness``; revocation
events evict; a fill read before an event or before the stream (re)started is dropped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from tokenward.domain import tokens as token_format
from tokenward.domain.errors import InvalidToken, StoreUnavailable
from tokenward.domain.model import Event
from tokenward.propagation.cache import GuardedCache

__all__ = ["Caller", "RemoteVerifier"]

log = logging.getLogger("tokenward.sdk")
_RECONNECT_PAUSE = 0.2  # seconds between attempts to reopen the event stream


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who presented a valid token, as a handler sees it."""

    token_id: str
    user_id: str
    username: str
    scopes: frozenset[str]
    expires_at: datetime | None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class RemoteVerifier:
    """Checks tokens against the tokenward server at ``url`` with ``key`` (an admin key with
    scope ``introspect``). Thread-safe; one per process."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        max_staleness: float = 1.0,
        capacity: int = 100_000,
        timeout: float = 2.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = key
        self.timeout = timeout
        self.cache: GuardedCache[Caller] = GuardedCache(
            max_staleness, capacity, time.monotonic, lambda caller: caller.user_id
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

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
                self._thread = threading.Thread(
                    target=self._follow, name="tokenward-sdk-events", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
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

    def verify(self, token: str) -> Caller:
        """Sync: the caller, or :class:`InvalidToken`, or :class:`StoreUnavailable`."""
        self.start()
        checked = self.check_cached(token)
        if isinstance(checked, Caller):
            return checked
        generation = self.cache.generation
        try:
            with httpx.Client(timeout=self.timeout) as client:
                answer = client.post(**self._introspection(token))
        except httpx.HTTPError as error:
            raise StoreUnavailable(type(error).__name__) from None
        return self._settle(checked, answer, generation)

    async def averify(self, token: str) -> Caller:
        """Async twin of :meth:`verify`."""
        self.start()
        checked = self.check_cached(token)
        if isinstance(checked, Caller):
            return checked
        return await self.aintrospect(token, checked)

    async def aintrospect(self, token: str, digest: str) -> Caller:
        """Ask the server about a token the cache does not hold (``digest`` is its digest)."""
        checked = digest
        generation = self.cache.generation
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.post(**self._introspection(token))
        except httpx.HTTPError as error:
            raise StoreUnavailable(type(error).__name__) from None
        return self._settle(checked, answer, generation)

    def _introspection(self, token: str) -> dict[str, Any]:
        return {
            "url": f"{self.url}/v1/introspect",
            "data": {"token": token},
            "headers": {"Authorization": f"Bearer {self._key}"},
        }

    def _settle(self, digest: str, answer: httpx.Response, generation: int) -> Caller:
        if answer.status_code != 200:
            raise StoreUnavailable(f"introspection answered {answer.status_code}")
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
        _check_expiry(caller)
        self.cache.fill(digest, caller, generation)
        return caller

    # -- the event stream -------------------------------------------------------------------

    def _follow(self) -> None:
        last_id: str | None = None
        while not self._stop.is_set():
            try:
                last_id = self._read_stream(last_id)
            except (httpx.HTTPError, ValueError) as error:
                log.warning("tokenward event stream lost (%s); reconnecting", type(error).__name__)
            self._stop.wait(_RECONNECT_PAUSE)

    def _read_stream(self, last_id: str | None) -> str | None:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id  # resume: every missed event is replayed
        timeout = httpx.Timeout(self.timeout, read=self.cache.max_staleness * 2)
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", f"{self.url}/v1/events", headers=headers) as response,
        ):
            if response.status_code != 200:
                log.warning("tokenward event stream refused: %d", response.status_code)
                return last_id
            if last_id is None:
                # The stream starts now; an introspection begun earlier may predate an
                # event it will not replay.
                self.cache.refuse_pending_fills()
            for kind, event_id, data in _sse(response.iter_lines()):
                received = time.monotonic()
                if self._stop.is_set():
                    break
                if kind == "heartbeat":
                    # Fresh as the server was: its confirmation is lag_ms older than now.
                    self.cache.apply([], received - float(data.get("lag_ms", 0)) / 1000)
                    # Resume from here after a drop, even if no event ever came.
                    last_id = str(data.get("seq", last_id))
                else:
                    self.cache.apply([_event(kind, data)], None)
                    last_id = event_id or last_id
        return last_id


def _sse(lines: Iterator[str]) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(event, id, data) of each Server-Sent Event."""
    kind, event_id, data = "message", None, ""
    for line in lines:
        if not line:
            if data:
                yield kind, event_id, json.loads(data)
            kind, event_id, data = "message", None, ""
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data += line[6:]


def _event(kind: str, data: dict[str, Any]) -> Event:
    user_id = data.get("user_id") or ""
    subject = user_id if kind.startswith("user.") else ",".join(data.get("token_ids", []))
    details = {"digests": data.get("digests", []), "user_id": user_id}
    return Event(
        kind, datetime.now(UTC), "tokenward", subject, details=details, seq=data.get("seq")
    )


def _check_expiry(caller: Caller) -> None:
    if caller.expires_at is not None and caller.expires_at <= datetime.now(UTC):
        raise InvalidToken("expired")
