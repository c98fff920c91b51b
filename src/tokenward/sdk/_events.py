"""Following the tokenward server's event stream (Server-Sent Events on ``/v1/events``) into a
resource server's guarded cache: revocation events evict, heartbeats vouch for freshness.

A dropped stream is reopened after a short pause with ``Last-Event-ID``, so the server replays
every event missed meanwhile; until a heartbeat arrives again the cache serves nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from tokenward.domain.model import Event
from tokenward.propagation.cache import GuardedCache

__all__ = ["EventStream"]

log = logging.getLogger("tokenward.sdk")
_RECONNECT_PAUSE = 0.2  # seconds between attempts to reopen the event stream


class EventStream:
    """Reads ``{url}/v1/events`` with ``key`` into ``cache`` until ``stop`` is set. The stream
    only evicts and confirms freshness, so it needs nothing of the cached values."""

    def __init__(
        self,
        url: str,
        key: str,
        timeout: float,
        cache: GuardedCache[Any],
        stop: threading.Event,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._transport = transport
        self._key = key
        self.timeout = timeout
        self.cache = cache
        self._stop = stop

    def follow(self) -> None:
        """Read the stream, reconnecting after each loss, until stopped (a thread's target).
        One client serves every connection: building one reads the environment's proxies."""
        timeout = httpx.Timeout(self.timeout, read=self.cache.max_staleness * 2)
        last_id: str | None = None
        with httpx.Client(timeout=timeout, transport=self._transport) as client:
            while not self._stop.is_set():
                try:
                    last_id = self.read(client, last_id)
                except (httpx.HTTPError, ValueError) as error:
                    log.warning(
                        "tokenward event stream lost (%s); reconnecting", type(error).__name__
                    )
                except Exception:  # a bug must not end the stream: the cache would stay cold
                    log.exception("tokenward event stream failed; reconnecting")
                self._stop.wait(_RECONNECT_PAUSE)

    def read(self, client: httpx.Client, last_id: str | None) -> str | None:
        """One connection: apply what arrives; return the id to resume from after a drop."""
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id  # resume: every missed event is replayed
        with client.stream("GET", f"{self.url}/v1/events", headers=headers) as response:
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
                last_id = self._apply(kind, event_id, data, received, last_id)
        return last_id

    def _apply(
        self,
        kind: str,
        event_id: str | None,
        data: dict[str, Any],
        received: float,
        last_id: str | None,
    ) -> str | None:
        if kind == "resume":  # the server dropped a slow reader: reconnect and replay
            return last_id
        if kind == "heartbeat":
            # Fresh as the server was: its confirmation is lag_ms older than now.
            self.cache.apply([], received - float(data.get("lag_ms", 0)) / 1000)
            # Resume from here after a drop, even if no event ever came.
            return str(data.get("seq", last_id))
        self.cache.apply([_event(kind, data)], None)
        return event_id or last_id


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
