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
from anyio import to_thread
from starlette.types import Receive, Scope, Send

from tokenward.domain.model import Event, invalidates_user
from tokenward.domain.scopes import INTROSPECT
from tokenward.http import problems
from tokenward.http.auth import principal_of
from tokenward.http.views import rfc3339
from tokenward.runtime import Runtime

__all__ = ["event_stream", "sse_data"]

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
_TICK = 0.01  # seconds between looks at this node's watermark (no I/O when nothing is new)


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


def event_stream(runtime: Runtime) -> Handler:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        caller = principal_of(scope)
        if caller is None:
            await problems.authentication_required()(scope, receive, send)
            return
        if not caller.has_scope(INTROSPECT):
            await problems.insufficient_scope(INTROSPECT)(scope, receive, send)
            return
        after = _start(scope, runtime.cache.applied_seq)
        if after is None:
            await problems.problem(
                400,
                "Invalid request",
                "after and Last-Event-ID must be whole numbers >= 0",
                slug="invalid-input",
            )(scope, receive, send)
            return
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # proxies must not hold events back
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with anyio.create_task_group() as group:

            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(until_disconnect)
            await _stream(runtime, after, send)
            group.cancel_scope.cancel()

    return endpoint


async def _stream(runtime: Runtime, after: int, send: Send) -> None:
    # Every quarter of the bound (the promise is at least every half): a client's freshness is
    # this node's, minus its lag, so the margin is what keeps clients fresh between beats.
    heartbeat = runtime.settings.max_staleness.total_seconds() / 4
    cursor, quiet_since = after, anyio.current_time()
    while True:
        if runtime.cache.applied_seq > cursor:  # this node has applied more: read it
            events = await to_thread.run_sync(runtime.store.events_after, cursor, 500)
            for event in events:
                data = sse_data(event)
                if data is not None:
                    await _send(send, event.seq or 0, event.type, data)
                cursor = event.seq or cursor
            if events:
                continue
        now = anyio.current_time()
        if now - quiet_since >= heartbeat and runtime.cache.is_fresh():
            seq = max(cursor, runtime.cache.applied_seq)
            lag = runtime.cache.lag() or 0.0
            await _send(send, None, "heartbeat", {"seq": seq, "lag_ms": round(lag * 1000, 1)})
            quiet_since = now
        await anyio.sleep(_TICK)


async def _send(send: Send, seq: int | None, kind: str, data: dict[str, Any]) -> None:
    lines = [] if seq is None else [f"id: {seq}"]
    lines += [f"event: {kind}", f"data: {orjson.dumps(data).decode()}", "", ""]
    body = "\n".join(lines).encode()
    await send({"type": "http.response.body", "body": body, "more_body": True})


def _start(scope: Scope, now: int) -> int | None:
    """Where to start: ``Last-Event-ID`` wins over ``?after=``; by default ``now`` (a new
    cache needs no past, only what happens from here on)."""
    raw = next((v for k, v in scope["headers"] if k == b"last-event-id"), None)
    if raw is None:
        values = parse_qs(scope["query_string"].decode("latin-1")).get("after")
        if values is None:
            return now
        raw = values[0].encode()
    text = raw.decode("latin-1").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None
