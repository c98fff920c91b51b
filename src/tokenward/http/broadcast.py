"""One reader of the event log per node, fanned out to every ``GET /v1/events`` subscriber.

The broadcaster is woken when this node applies new events (the feed calls it from the
thread that applied them) and reads ``SETTLE`` later, so the request that made the change
answers before the fan-out takes the event loop; otherwise it looks every ``TICK``, for
heartbeats.

The broadcaster reads each new event from the log once, encodes it once, and appends the same
bytes to every subscriber's pending buffer; each subscriber's own task sends what is pending in
one write. So a revocation costs one store read and N buffer appends, whatever N is, instead of
N readers polling the log and reading every event each.

Heartbeats take turns: each subscriber has one of ``heartbeat / TICK`` turns, and every tick
the streams whose turn has come get the tick's heartbeat (encoded once). Each stream still gets
one every ``heartbeat``, but no tick writes to every stream at once: a revocation never waits
behind a fan-out of heartbeats to thousands of streams (with 2,000 streams that took ~30 ms,
every 250 ms).

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
from tokenward.propagation.feed import EventFeed

__all__ = ["Broadcaster", "Subscriber", "encode"]

TICK = 0.01  # seconds between looks at the watermark and the clock, unless woken sooner
MAX_PENDING = 256 * 1024  # bytes a subscriber may have waiting before it is dropped
SETTLE = 0.003  # seconds between being woken and reading: the change's own request answers first
BATCH = 64  # subscribers offered a chunk before the rest of the node gets a turn

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
    """The node's one follower of the log for its event streams; runs while any subscribes."""

    def __init__(
        self,
        feed: EventFeed,
        read: Reader,
        payload: Payload,
        per_key: int,
        draining: Callable[[], bool],
    ) -> None:
        self.feed = feed
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
                if self.feed.applied_seq > self.cursor and await self._offer_new():
                    continue
                turn = self._turn_at(loop.time())
                if turn > beaten and self._may_vouch():
                    await self._offer_heartbeat(
                        range(max(beaten + 1, turn - len(self._turns) + 1), turn + 1)
                    )
                    beaten = turn
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
        timer = loop.call_later(seconds, _settle, nap)
        try:
            await nap
        finally:
            timer.cancel()
            self._nap = None

    def _woken(self) -> None:
        if self._nap is not None:
            asyncio.get_running_loop().call_later(SETTLE, _settle, self._nap)

    async def _offer_new(self) -> bool:
        """Reads the log after the cursor once and offers each event; whether any came. A log
        that cannot be read is tried again next tick; meanwhile no heartbeat vouches for it."""
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
                await self._offer(event.seq, encode(event.seq, event.type, data))
        return bool(events)

    def _may_vouch(self) -> bool:
        """A heartbeat says "you have everything up to seq": only while this node is fresh
        and every event it applied has been offered."""
        return self.feed.is_fresh() and self.cursor >= self.feed.applied_seq

    async def _offer_heartbeat(self, turns: range) -> None:
        """One heartbeat, to the streams of ``turns`` (usually one; more if the loop was held)."""
        data = {"seq": self.cursor, "lag_ms": round(self.feed.lag() * 1000, 1)}
        due = [s for turn in turns for s in self._turns[turn % len(self._turns)]]
        await self._offer(None, encode(None, "heartbeat", data), due)

    def _end_every_stream(self) -> None:
        for subscriber in self._subscribers:
            subscriber.ended = True
            subscriber.wake.set()

    async def _offer(
        self, seq: int | None, chunk: bytes, to: Iterable[Subscriber] | None = None
    ) -> None:
        """``chunk`` to every subscriber (or those ``to``), a batch at a time: between batches
        the node's other work runs (the revoking request's own answer, other requests), so a
        fan-out to thousands of streams does not hold the node for the whole of its writes."""
        for count, subscriber in enumerate(tuple(self._subscribers if to is None else to), 1):
            subscriber.offer(seq, chunk)
            if count % BATCH == 0:
                await asyncio.sleep(0)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _poker(loop: asyncio.AbstractEventLoop, woken: Callable[[], None]) -> Callable[[], None]:
    """``woken``, run on ``loop``, callable from any thread (a loop closed meanwhile: no-op)."""

    def poke() -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(woken)

    return poke
