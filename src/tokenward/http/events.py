"""``GET /v1/events``: the revocation-relevant part of the event log as Server-Sent Events, for
resource-server caches (scope ``introspect``).

Each event carries its ``seq`` as the SSE ``id``, so a client that reconnects with
``Last-Event-ID`` (or ``?after=``) misses nothing. While this node is fresh, a ``heartbeat``
with the current ``seq`` goes out at least every ``max_staleness / 2``; a stale node sends none,
so its clients fail closed too. One broadcaster per node reads the log for every stream
(:mod:`tokenward.http.broadcast`); a new stream first replays the log from its starting point.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs

import anyio
from starlette.types import Receive, Scope, Send

from tokenward.domain import answers
from tokenward.domain.errors import StoreUnavailable, TokenwardError
from tokenward.domain.model import Event, invalidates_user
from tokenward.domain.scopes import INTROSPECT
from tokenward.http.auth import principal_of
from tokenward.http.broadcast import Broadcaster, Subscriber, encode
from tokenward.http.in_flight import InFlight
from tokenward.http.views import rfc3339
from tokenward.propagation.feed import EventFeed
from tokenward.service.authentication import Authenticator, require

__all__ = ["PATH", "EventStream", "sse_data"]

PATH = "/v1/events"

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


class EventStream:
    """``GET /v1/events`` over ``feed``, for callers holding scope ``introspect``; at most
    ``per_key`` streams at once for each credential (more: 429). One :class:`Broadcaster`
    serves every stream of the node; the requests counted in ``in_flight`` go before it."""

    def __init__(
        self,
        feed: EventFeed,
        authenticator: Authenticator,
        per_key: int,
        draining: Callable[[], bool] = lambda: False,
        in_flight: InFlight | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.broadcaster = Broadcaster(
            feed, authenticator.in_thread, sse_data, per_key, draining, in_flight
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = require(principal_of(scope), INTROSPECT)
        except TokenwardError as refusal:
            await refusal.answer().send(send)
            return
        after = _start(scope, self.broadcaster.feed.applied_seq)
        if after is None:
            await _BAD_START.send(send)
            return
        subscriber = self.broadcaster.subscribe(principal.actor, after)
        if subscriber is None:
            await answers.too_many_streams(self.broadcaster.per_key).send(send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            stream = _stream(self.broadcaster, subscriber, self.authenticator, send)
            await _until_disconnect(receive, stream)
            await send({"type": "http.response.body", "body": b""})  # the stream's end
        finally:
            self.broadcaster.unsubscribe(subscriber)


async def _until_disconnect(receive: Receive, stream: Coroutine[Any, Any, None]) -> None:
    """Runs ``stream`` until it ends or the client goes away."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await stream
        group.cancel_scope.cancel()


async def _stream(
    broadcaster: Broadcaster, subscriber: Subscriber, authenticator: Authenticator, send: Send
) -> None:
    """What the log holds after the subscriber's start (up to where the broadcaster took
    over), then what the broadcaster offers. A log that cannot be read, or the node draining
    (SIGTERM), ends the stream: the client reconnects, through the load balancer, with
    ``Last-Event-ID``, so a restart does not wait out every subscriber."""
    start, until = subscriber.after, broadcaster.cursor
    subscriber.after = max(start, until)  # the replay's; the broadcaster offers what is newer
    try:
        await _replay(start, until, authenticator, broadcaster.feed, send)
    except StoreUnavailable:
        return
    while not subscriber.ended:
        await subscriber.wake.wait()
        if subscriber.dropped:
            await _body(send, encode(None, "resume", {"reason": "the client read too slowly"}))
            return
        await _body(send, subscriber.take())


async def _replay(
    after: int, until: int, authenticator: Authenticator, feed: EventFeed, send: Send
) -> None:
    """The log's events in ``(after, until]``, read a page at a time."""
    while after < until:
        events = await authenticator.in_thread(feed.after, after)
        chunks = [
            encode(event.seq, event.type, data)
            for event in events
            if (event.seq or 0) <= until and (data := sse_data(event)) is not None
        ]
        if chunks:
            await _body(send, b"".join(chunks))
        if not events:
            return
        after = events[-1].seq or until


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


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
