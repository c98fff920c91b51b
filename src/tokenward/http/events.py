"""``GET /v1/events``: the revocation-relevant part of the event log as Server-Sent Events, for
resource-server caches (scope ``introspect``).

Each event carries its ``seq`` as the SSE ``id``, so a client that reconnects with
``Last-Event-ID`` (or ``?after=``) misses nothing. While this node is fresh, a ``heartbeat``
with the current ``seq`` goes out at least every ``max_staleness / 2``; a stale node sends none,
so its clients fail closed too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import anyio
import orjson
from starlette.types import Receive, Scope, Send

from tokenward.domain import answers
from tokenward.domain.errors import StoreUnavailable, TokenwardError
from tokenward.domain.model import Event, invalidates_user
from tokenward.domain.scopes import INTROSPECT
from tokenward.http.auth import principal_of
from tokenward.http.views import rfc3339
from tokenward.propagation.feed import EventFeed
from tokenward.service.authentication import Authenticator, require

__all__ = ["event_stream", "sse_data"]

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
_TICK = 0.01  # seconds between looks at this node's watermark (no I/O when nothing is new)
_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # proxies must not hold events back
]
_BAD_START = answers.problem(
    400,
    "Invalid request",
    "after and Last-Event-ID must be whole numbers >= 0",
    slug="invalid-input",
)


def sse_data(event: Event) -> dict[str, Any] | None:
    """The SSE payload of a revocation-relevant event, or None for any other event."""
    details = event.details
    digests = list(details.get("digests", ()))
    is_user_event = invalidates_user(event.type)
    if not digests and not is_user_event:
        return None
    token_ids = details.get("token_ids") or ([details["token_id"]] if "token_id" in details else [])
    return {
        "seq": event.seq,
        "type": event.type,
        "token_ids": list(token_ids),
        "digests": digests,
        "user_id": event.subject if is_user_event else details.get("user_id"),
        "at": rfc3339(event.at),
    }


def event_stream(feed: EventFeed, authenticator: Authenticator) -> Handler:
    """``GET /v1/events`` over ``feed``, for callers holding scope ``introspect``."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            require(principal_of(scope), INTROSPECT)
        except TokenwardError as refusal:
            await refusal.answer().send(send)
            return
        after = _start(scope, feed.applied_seq)
        if after is None:
            await _BAD_START.send(send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        async with anyio.create_task_group() as group:

            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(until_disconnect)
            await _stream(feed, authenticator, after, send)
            group.cancel_scope.cancel()

    return endpoint


async def _stream(feed: EventFeed, authenticator: Authenticator, after: int, send: Send) -> None:
    """Events after ``after`` as this node applies them, heartbeats while it is fresh. A log
    that cannot be read ends the stream: the client reconnects with ``Last-Event-ID``."""
    cursor, quiet_since = after, anyio.current_time()
    while True:
        if feed.applied_seq > cursor:  # this node has applied more: read it
            try:
                events = await authenticator.in_thread(feed.after, cursor)
            except StoreUnavailable:
                return
            for event in events:
                data = sse_data(event)
                if data is not None:
                    await _send(send, event.seq or 0, event.type, data)
                cursor = event.seq or cursor
            if events:
                continue
        now = anyio.current_time()
        if now - quiet_since >= feed.heartbeat and feed.is_fresh():
            seq = max(cursor, feed.applied_seq)
            lag_ms = round(feed.lag() * 1000, 1)
            await _send(send, None, "heartbeat", {"seq": seq, "lag_ms": lag_ms})
            quiet_since = now
        await anyio.sleep(_TICK)


async def _send(send: Send, seq: int | None, kind: str, data: dict[str, Any]) -> None:
    lines = [] if seq is None else [f"id: {seq}"]
    lines += [f"event: {kind}", f"data: {orjson.dumps(data).decode()}", "", ""]
    body = "\n".join(lines).encode()
    await send({"type": "http.response.body", "body": body, "more_body": True})


def _start(scope: Scope, now: int) -> int | None:
    """Where to start: ``Last-Event-ID`` wins over ``?after=``; by default ``now`` (a new
    cache needs no past, only what happens from here on). ``None`` if either is sent and is
    not a number of the log, even the one that does not count."""
    header = next((v for k, v in scope["headers"] if k == b"last-event-id"), None)
    query = parse_qs(scope["query_string"].decode("latin-1")).get("after")
    sent = [r for r in (header, None if query is None else query[0].encode()) if r is not None]
    seqs = [_seq(raw) for raw in sent]
    if None in seqs:
        return None
    return seqs[0] if seqs else now


def _seq(raw: bytes) -> int | None:
    text = raw.decode("latin-1").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None
