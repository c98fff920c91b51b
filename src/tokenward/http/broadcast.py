"""One reader of the event log per node, fanned out to every ``GET /v1/events`` subscriber.

The broadcaster is woken when this node applies new events (the feed calls it from the
thread that applied them); otherwise it looks every ``TICK``, for heartbeats.

Requests come first. Before a fan-out or a tick's heartbeats, and between its batches, the
broadcaster waits until the node has no request in flight (:mod:`tokenward.http.in_flight`),
for at most ``PATIENCE`` in all: the request that made the change answers before its fan-out
takes the event loop, and a revocation that arrives during a fan-out is not served a batch at
a time behind it. A node that is never idle delays each fan-out by ``PATIENCE``, no more.

The broadcaster reads each new event from the log once, encodes it once, and appends the same
bytes to every subscriber's pending buffer; each subscriber's own task sends what is pending in
one write. So a revocation costs one store read and N buffer appends, whatever N is, instead of
N readers polling the log and reading every event each.

Heartbeats take turns: each subscriber has one of ``heartbeat / TICK`` turns, and every tick
the streams whose turn has come get the tick's heartbeat (encoded once). Turns missed while the
loop was held (by a fan-out, say) are made up ``CATCH_UP`` a tick, oldest first, not all at
once: the backlog shrinks by a turn a tick, so no beat is later than the hold itself made it.
Each stream still gets one every ``heartbeat``, but no tick writes to every stream at once: a
revocation never waits behind a fan-out of heartbeats to thousands of streams (with 2,000
streams that took ~30 ms, every 250 ms).

A subscriber that lets more than ``MAX_PENDING`` bytes pile up (it reads slower than events
come) is dropped: it gets a last ``resume`` event and the stream ends, and it reconnects with
``Last-Event-ID`` to replay what it missed from the log. Nothing is lost; a slow reader only
stops holding memory on this node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.model import Event
from tokenward.http.in_flight import InFlight, settle
from tokenward.propagation.feed import EventFeed

__all__ = ["Broadcaster", "Subscriber", "encode"]

TICK = 0.01  # seconds between looks at the watermark and the clock, unless woken sooner
MAX_PENDING = 256 * 1024  # bytes a subscriber may have waiting before it is dropped
PATIENCE = 0.01  # seconds a fan-out waits, in all, for the node's requests in flight to answer
BATCH = 64  # subscribers offered a chunk before the rest of the node gets a turn
CATCH_UP = 2  # heartbeat turns a tick offers at most: the current one and one missed

Reader = Callable[[Callable[[int], list[Event]], int], Awaitable[list[Event]]]
Payload = Callable[[Event], dict[str, Any] | None]


def encode(seq: int | None, kind: str, data: dict[str, Any]) -> bytes:
    """One Server-Sent Event: ``id`` (when it has a seq), ``event``, ``data``."""
    lines = [] if seq is None else [f"id: {seq}"]
    lines += [f"event: {kind}", f"data: {orjson.dumps(data).decode()}", "", ""]
    return "\n".join(lines).encode()


class Subscriber:
    """One stream's pending bytes. Events at or before ``after`` are not for it (it has them)."""

    def __init__(self, key: str, after: int, turn: int = 0) -> None:
        self.key = key
        self.after = after
        self.turn = turn  # which of the broadcaster's heartbeat turns is this stream's
        self.pending: list[bytes] = []
        self.size = 0
        self.dropped = False
        self.ended = False  # the node is draining: send what is pending, then end
        self.wake = asyncio.Event()

    def offer(self, seq: int | None, chunk: bytes) -> None:
        if self.dropped or (seq is not None and seq <= self.after):
            return
        self.pending.append(chunk)
        self.size += len(chunk)
        if self.size > MAX_PENDING:
            self.dropped, self.pending, self.size = True, [], 0
        self.wake.set()

    def take(self) -> bytes:
        """Everything pending, as one write."""
        chunk = b"".join(self.pending)
        self.pending, self.size = [], 0
        self.wake.clear()
        return chunk


class Broadcaster:
    """The node's one follower of the log for its event streams; runs while any subscribes.
    ``in_flight`` counts the node's requests, which go before a fan-out."""

    def __init__(
        self,
        feed: EventFeed,
        read: Reader,
        payload: Payload,
        per_key: int,
        draining: Callable[[], bool],
        in_flight: InFlight | None = None,
    ) -> None:
        self.feed = feed
        self.in_flight = InFlight() if in_flight is None else in_flight
        self._draining = draining
        self._read = read
        self._payload = payload
        self.per_key = per_key
        self.cursor = feed.applied_seq  # every event up to here has been offered
        self._subscribers: set[Subscriber] = set()
        self._turns: list[set[Subscriber]] = [
            set() for _ in range(max(1, round(feed.heartbeat / TICK)))
        ]
        self._next_turn = 0
        self._keys: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._nap: asyncio.Future[None] | None = None
        self._poke: Callable[[], None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, key: str, after: int) -> Subscriber | None:
        """A new subscriber, or ``None`` when ``key`` already holds ``per_key`` streams."""
        if self._keys[key] >= self.per_key:
            return None
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self.cursor = self.feed.applied_seq  # nobody was following: start from here
            self._task = loop.create_task(self._run())
            self._poke = _poker(loop, self._woken)
            self.feed.listen(self._poke)
        subscriber = Subscriber(key, after, self._next_turn)
        self._next_turn = (self._next_turn + 1) % len(self._turns)
        subscriber.ended = self._draining()
        self._subscribers.add(subscriber)
        self._turns[subscriber.turn].add(subscriber)
        self._keys[key] += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.discard(subscriber)
            self._turns[subscriber.turn].discard(subscriber)
            self._keys[subscriber.key] -= 1
            if not self._keys[subscriber.key]:
                del self._keys[subscriber.key]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        beaten = self._turn_at(loop.time())  # the last turn whose streams got their heartbeat
        try:
            while self._subscribers:
                if self._draining():
                    self._end_every_stream()
                new = self.feed.applied_seq > self.cursor
                if new and await self._offer_new():
                    continue
                turn = self._turn_at(loop.time())
                first = max(beaten + 1, turn - len(self._turns) + 1)  # a whole round at most
                due = range(first, min(first + CATCH_UP, turn + 1))
                if due and self._may_vouch() and await self._offer_heartbeat(due):
                    beaten = due[-1]
                if new or self.feed.applied_seq <= self.cursor:  # else: events came meanwhile
                    await self._sleep(TICK)
        finally:
            if self._poke is not None:
                self.feed.unlisten(self._poke)

    def _turn_at(self, moment: float) -> int:
        """The heartbeat turns counted since the loop's clock began: each lasts ``heartbeat``
        shared by the turns, so turn ``n`` is the streams of ``n % len(turns)``."""
        return int(moment * len(self._turns) / self.feed.heartbeat)

    async def _sleep(self, seconds: float) -> None:
        """``seconds``, or less if the node applies new events meanwhile."""
        loop = asyncio.get_running_loop()
        self._nap = nap = loop.create_future()
        timer = loop.call_later(seconds, settle, nap)
        try:
            await nap
        finally:
            timer.cancel()
            self._nap = None

    def _woken(self) -> None:
        if self._nap is not None:
            settle(self._nap)

    async def _offer_new(self) -> bool:
        """Reads the log after the cursor once and offers each event; whether any came. A log
        that cannot be read is tried again next tick; meanwhile no heartbeat vouches for it."""
        patience = asyncio.get_running_loop().time() + PATIENCE
        await self._make_way(patience)  # the change's own request answers first
        try:
            events = await self._read(self.feed.after, self.cursor)
        except StoreUnavailable:
            return False
        for event in events:
            # The cursor moves first: a stream that starts while this event is being offered
            # replays up to the cursor, so it gets the event either way, and once.
            self.cursor = max(self.cursor, event.seq or 0)
            data = self._payload(event)
            if data is not None:
                await self._offer(event.seq, encode(event.seq, event.type, data), patience)
        return bool(events)

    def _may_vouch(self) -> bool:
        """A heartbeat says "you have everything up to seq": only while this node is fresh
        and every event it applied has been offered."""
        return self.feed.is_fresh() and self.cursor >= self.feed.applied_seq

    async def _offer_heartbeat(self, turns: range) -> bool:
        """One heartbeat, to the streams of ``turns`` (usually one; two while making up turns),
        after the requests in flight; whether it went (not if events came meanwhile: they go
        first, and the heartbeat after them)."""
        patience = asyncio.get_running_loop().time() + PATIENCE
        await self._make_way(patience)
        if not self._may_vouch():
            return False
        data = {"seq": self.cursor, "lag_ms": round(self.feed.lag() * 1000, 1)}
        due = [s for turn in turns for s in self._turns[turn % len(self._turns)]]
        await self._offer(None, encode(None, "heartbeat", data), patience, due)
        return True

    def _end_every_stream(self) -> None:
        for subscriber in self._subscribers:
            subscriber.ended = True
            subscriber.wake.set()

    async def _offer(
        self,
        seq: int | None,
        chunk: bytes,
        patience: float,
        to: Iterable[Subscriber] | None = None,
    ) -> None:
        """``chunk`` to every subscriber (or those ``to``), a batch at a time: between batches
        the node's other work runs (requests in flight first, until ``patience``), so a fan-out
        to thousands of streams does not hold the node for the whole of its writes."""
        for count, subscriber in enumerate(tuple(self._subscribers if to is None else to), 1):
            subscriber.offer(seq, chunk)
            if count % BATCH == 0:
                await self._make_way(patience)

    async def _make_way(self, patience: float) -> None:
        """Lets the node's other work run: the requests in flight until they have answered or
        the loop's clock reaches ``patience``, then whatever else is ready."""
        left = patience - asyncio.get_running_loop().time()
        if self.in_flight.count and left > 0:
            await self.in_flight.idle(left)
        else:
            await asyncio.sleep(0)


def _poker(loop: asyncio.AbstractEventLoop, woken: Callable[[], None]) -> Callable[[], None]:
    """``woken``, run on ``loop``, callable from any thread (a loop closed meanwhile: no-op)."""

    def poke() -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(woken)

    return poke
