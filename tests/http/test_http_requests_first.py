"""Requests go before the event streams' fan-out: the front door counts the requests in flight
(event streams aside), and the broadcaster waits for them, at most ``PATIENCE`` in all, before
it fans an event or a tick's heartbeats out to every stream. (How missed heartbeat turns are
made up is in ``test_http_event_fanout.py``, beside how they take turns.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from event_streams import introspect_key, serving
from starlette.types import Message, Receive, Scope, Send

from tokenward.domain.model import Actor, Event
from tokenward.http import broadcast
from tokenward.http.broadcast import Broadcaster, Subscriber
from tokenward.http.front import FrontDoor
from tokenward.http.in_flight import InFlight
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.testing import make_token, make_user

ADMIN = Actor("test")

# -- InFlight ------------------------------------------------------------------------------------


def test_waiting_for_idle_returns_at_once_when_nothing_is_in_flight() -> None:
    async def scenario() -> float:
        started = time.monotonic()
        await InFlight().idle(5.0)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.1


def test_waiting_for_idle_ends_when_the_last_request_leaves() -> None:
    async def scenario() -> list[bool]:
        in_flight = InFlight()
        in_flight.enter()
        in_flight.enter()
        waits = [asyncio.create_task(in_flight.idle(5.0)) for _ in range(2)]
        seen = []
        await asyncio.sleep(0.05)
        seen.append(any(w.done() for w in waits))
        in_flight.leave()  # one request is still in flight
        await asyncio.sleep(0.05)
        seen.append(any(w.done() for w in waits))
        in_flight.leave()
        await asyncio.wait_for(asyncio.gather(*waits), timeout=1)
        seen.append(in_flight.count == 0 and not in_flight._waiters)
        return seen

    assert asyncio.run(scenario()) == [False, False, True]


def test_waiting_for_idle_gives_up_after_its_patience_on_a_node_that_is_never_idle() -> None:
    async def scenario() -> tuple[float, int, int]:
        in_flight = InFlight()
        in_flight.enter()
        started = time.monotonic()
        await in_flight.idle(0.05)
        return time.monotonic() - started, in_flight.count, len(in_flight._waiters)

    waited, count, waiters = asyncio.run(scenario())
    assert 0.04 <= waited < 1.0
    assert count == 1  # still in flight: the wait ended on its own, and left nothing behind
    assert waiters == 0


# -- the front door counts requests, not event streams -------------------------------------------


def test_the_front_door_counts_each_request_until_it_has_answered_but_no_event_stream() -> None:
    in_flight = InFlight()
    seen: dict[str, int] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen[scope["path"]] = in_flight.count
        if scope["path"] == "/boom":
            raise RuntimeError("a handler failed")

    front = FrontDoor(inner, Settings(), {}, in_flight, frozenset({"/v1/events"}))

    async def call(path: str) -> None:
        scope: Scope = {"type": "http", "method": "GET", "path": path, "headers": []}
        scope["client"] = None

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            pass

        await front(scope, receive, send)

    async def scenario() -> None:
        await call("/v1/self")
        await call("/v1/events")
        with pytest.raises(RuntimeError):
            await call("/boom")

    asyncio.run(scenario())
    assert seen == {"/v1/self": 1, "/v1/events": 0, "/boom": 1}
    assert in_flight.count == 0  # a request that failed has left too


# -- the broadcaster waits for requests in flight -------------------------------------------------


class _Feed:
    """A fresh node whose log gains one event when :meth:`append` is called."""

    heartbeat = 0.25

    def __init__(self) -> None:
        self.applied_seq = 7
        self.listeners: list[Any] = []

    def is_fresh(self) -> bool:
        return True

    def lag(self) -> float:
        return 0.0

    def listen(self, listener: Any) -> None:
        self.listeners.append(listener)

    def unlisten(self, listener: Any) -> None:
        self.listeners.remove(listener)

    def append(self) -> None:
        self.applied_seq += 1
        for listener in self.listeners:
            listener()

    def after(self, seq: int) -> list[Event]:
        return [
            Event("token.revoked", datetime.now(UTC), "test", f"tok_{n}", seq=n)
            for n in range(seq + 1, self.applied_seq + 1)
        ]


async def _read(after: Callable[[int], list[Event]], seq: int) -> list[Event]:
    return after(seq)


def _hub(feed: _Feed, in_flight: InFlight) -> Broadcaster:
    node: Any = feed
    return Broadcaster(node, _read, lambda e: {"seq": e.seq}, 100, lambda: False, in_flight)


def _events(subscriber: Subscriber) -> int:
    return sum(chunk.count(b"event: token.revoked") for chunk in subscriber.pending)


def test_a_fan_out_waits_for_the_request_in_flight_then_goes_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(broadcast, "PATIENCE", 5.0)  # far longer than the test

    async def scenario() -> list[list[int]]:
        feed, in_flight = _Feed(), InFlight()
        hub = _hub(feed, in_flight)
        streams = [s for s in (hub.subscribe("tok_key", 7) for _ in range(3)) if s is not None]
        await asyncio.sleep(0.05)
        in_flight.enter()  # the revoking request, say: not answered yet
        feed.append()
        await asyncio.sleep(0.2)
        seen = [[_events(s) for s in streams]]
        in_flight.leave()
        await asyncio.sleep(0.05)
        seen.append([_events(s) for s in streams])
        for subscriber in streams:
            hub.unsubscribe(subscriber)
        return seen

    waiting, answered = asyncio.run(scenario())
    assert waiting == [0, 0, 0]
    assert answered == [1, 1, 1]


def test_a_fan_out_goes_after_its_patience_on_a_node_that_is_never_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(broadcast, "PATIENCE", 0.1)

    async def scenario() -> tuple[float, list[int]]:
        feed, in_flight = _Feed(), InFlight()
        hub = _hub(feed, in_flight)
        streams = [s for s in (hub.subscribe("tok_key", 7) for _ in range(3)) if s is not None]
        await asyncio.sleep(0.05)
        in_flight.enter()  # and it never leaves
        started = time.monotonic()
        feed.append()
        while not all(_events(s) for s in streams) and time.monotonic() - started < 5:
            await asyncio.sleep(0.005)
        waited = time.monotonic() - started
        for subscriber in streams:
            hub.unsubscribe(subscriber)
        return waited, [_events(s) for s in streams]

    waited, events = asyncio.run(scenario())
    assert events == [1, 1, 1]
    assert 0.09 <= waited < 1.0


def test_heartbeats_wait_for_the_request_in_flight_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broadcast, "PATIENCE", 5.0)

    async def scenario() -> tuple[int, int]:
        feed, in_flight = _Feed(), InFlight()
        hub = _hub(feed, in_flight)
        subscriber = hub.subscribe("tok_key", 7)
        assert subscriber is not None
        in_flight.enter()
        await asyncio.sleep(0.6)  # more than two heartbeat periods
        held = subscriber.take().count(b"event: heartbeat")
        in_flight.leave()
        await asyncio.sleep(0.3)
        after = subscriber.take().count(b"event: heartbeat")
        hub.unsubscribe(subscriber)
        return held, after

    held, after = asyncio.run(scenario())
    assert held == 0
    assert after >= 1


# -- served: the revoking request answers first ---------------------------------------------------


def test_a_served_revocation_reaches_streams_once_the_request_in_flight_has_answered(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wired end to end: a request still in flight on the node (its body half sent) holds the
    fan-out back; once it has answered, every stream gets the revocation."""
    monkeypatch.setattr(broadcast, "PATIENCE", 5.0)
    key = introspect_key(runtime)
    alice = make_user(runtime)
    created = make_token(runtime, alice)

    async def scenario(base_url: str) -> tuple[bytes, bytes]:
        where = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        writer.write(
            f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
        )
        await reader.readuntil(b"event: heartbeat\n")
        slow_reader, slow = await asyncio.open_connection(where.hostname, where.port)
        slow.write(
            b"POST /v1/introspect HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\ntoken"
        )
        await slow.drain()
        await asyncio.sleep(0.1)  # the request is in flight, waiting for the rest of its body
        await asyncio.to_thread(
            runtime.tokens.revoke, created.record.id, by=ADMIN, owner_id=alice.id
        )
        with pytest.raises(TimeoutError):  # held back while the request is in flight
            await asyncio.wait_for(reader.readuntil(b"event: token.revoked\n"), 0.3)
        slow.write(b"=xxxx")  # the body's last bytes: the request answers
        answer = await asyncio.wait_for(slow_reader.readline(), 5)
        await asyncio.wait_for(reader.readuntil(b"event: token.revoked\n"), 2)
        arrived = await asyncio.wait_for(reader.readuntil(b"\n\n"), 2)
        writer.close()
        slow.close()
        return answer, arrived

    with serving(runtime) as base_url:
        answer, arrived = asyncio.run(scenario(base_url))
    assert answer.startswith(b"HTTP/1.1 ")
    assert created.record.id.encode() in arrived
