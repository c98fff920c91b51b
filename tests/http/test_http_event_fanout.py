"""GET /v1/events with many subscribers: one broadcaster per node delivers a revocation to every
stream within the bound, caps the streams of one credential, and drops a reader that falls
behind with a last ``resume`` event (it reconnects and replays, so nothing is lost)."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from event_streams import introspect_key, served

from tokenward.domain.model import Actor
from tokenward.http import broadcast
from tokenward.http.broadcast import MAX_PENDING, Subscriber
from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user

ADMIN = Actor("test")
SUBSCRIBERS = 300


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"events_per_key": SUBSCRIBERS}


base_url = pytest.fixture(served)
key = pytest.fixture(introspect_key)


async def _open(base_url: str, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One raw HTTP/1.1 event stream, read up to its first heartbeat."""
    where = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    request = f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
    writer.write(request.encode())
    status = await reader.readline()
    assert b" 200 " in status, status
    await reader.readuntil(b"event: heartbeat\n")
    return reader, writer


async def _until(reader: asyncio.StreamReader, marker: bytes) -> float:
    await asyncio.wait_for(reader.readuntil(marker), timeout=5)
    return time.monotonic()


async def _fan_out(base_url: str, key: str, revoke: Any) -> list[float]:
    streams = await asyncio.gather(*(_open(base_url, key) for _ in range(SUBSCRIBERS)))
    try:
        waits = [asyncio.create_task(_until(r, b"event: token.revoked\n")) for r, _ in streams]
        started = time.monotonic()
        await asyncio.to_thread(revoke)
        arrived = await asyncio.gather(*waits)
        over_cap = httpx2.get(
            f"{base_url}/v1/events", headers={"Authorization": f"Bearer {key}"}, timeout=5
        )
        assert over_cap.status_code == 429
        assert over_cap.headers["retry-after"]
        assert over_cap.headers["content-type"] == "application/problem+json"
        return [moment - started for moment in arrived]
    finally:
        for _, writer in streams:
            writer.close()


def test_every_subscriber_gets_a_revocation_within_the_bound(
    base_url: str, runtime: Runtime, key: str
) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)

    def revoke() -> None:
        runtime.tokens.revoke(created.record.id, by=ADMIN, owner_id=alice.id)

    delays = asyncio.run(_fan_out(base_url, key, revoke))
    p99 = statistics.quantiles(delays, n=100)[98]
    print(
        f"{SUBSCRIBERS} subscribers: p50 {statistics.median(delays) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
    )
    assert len(delays) == SUBSCRIBERS
    assert max(delays) < runtime.settings.max_staleness.total_seconds()


def test_a_revocation_wakes_the_broadcaster_at_once_not_at_its_next_look(
    base_url: str, runtime: Runtime, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node applying the event wakes the broadcaster: with its periodic look pushed out to
    a minute, the revocation still arrives at once."""
    monkeypatch.setattr(broadcast, "TICK", 60.0)
    alice = make_user(runtime)
    created = make_token(runtime, alice)

    async def scenario() -> float:
        where = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        request = f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
        writer.write(request.encode())
        assert b" 200 " in await reader.readline()
        await asyncio.sleep(0.2)  # the broadcaster has looked once and is napping
        started = time.monotonic()
        await asyncio.to_thread(
            runtime.tokens.revoke, created.record.id, by=ADMIN, owner_id=alice.id
        )
        arrived = await _until(reader, b"event: token.revoked\n")
        writer.close()
        return arrived - started

    assert asyncio.run(scenario()) < 1.0


async def _status_of_one_more(base_url: str, key: str) -> bytes:
    where = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    writer.write(
        f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    )
    status = await reader.readline()
    writer.close()
    return status.split()[1]


def test_closing_a_stream_frees_its_place_under_the_cap(base_url: str, key: str) -> None:
    async def fill_close_one_retry() -> list[bytes]:
        streams = await asyncio.gather(*(_open(base_url, key) for _ in range(SUBSCRIBERS)))
        seen = [await _status_of_one_more(base_url, key)]
        streams[0][1].close()
        for _ in range(100):  # until the server has noticed the disconnect
            await asyncio.sleep(0.02)
            seen.append(await _status_of_one_more(base_url, key))
            if seen[-1] != b"429":
                break
        for _, writer in streams[1:]:
            writer.close()
        return seen

    seen = asyncio.run(fill_close_one_retry())
    assert seen[0] == b"429"
    assert seen[-1] == b"200"


def test_a_subscriber_that_falls_behind_is_dropped_and_holds_no_memory() -> None:
    async def scenario() -> Subscriber:
        subscriber = Subscriber("tok_key", after=10)
        subscriber.offer(5, b"old")  # at or before its start: it has this already
        assert subscriber.pending == []
        chunk = b"x" * 1024
        for seq in range(11, 11 + MAX_PENDING // len(chunk) + 1):
            subscriber.offer(seq, chunk)
        return subscriber

    subscriber = asyncio.run(scenario())
    assert subscriber.dropped
    assert subscriber.pending == [] and subscriber.size == 0
    assert subscriber.wake.is_set()  # its stream wakes to send the final resume event
    subscriber.offer(99, b"after the drop")
    assert subscriber.pending == []


class _QuietFeed:
    """A fresh node with nothing new: only heartbeats go out."""

    heartbeat = 0.25
    applied_seq = 7

    def is_fresh(self) -> bool:
        return True

    def lag(self) -> float:
        return 0.0

    def listen(self, listener: object) -> None:
        pass

    def unlisten(self, listener: object) -> None:
        pass


async def _never_read(read: Any, after: int) -> list[Any]:
    raise AssertionError("a quiet node has nothing to read")


@pytest.fixture
def offers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many streams each of the broadcaster's offers went to, in order."""
    rounds: list[int] = []
    offer = broadcast.Broadcaster._offer

    async def counted(
        self: Any, seq: int | None, chunk: bytes, patience: float, to: Any = None
    ) -> None:
        to = list(self._subscribers if to is None else to)
        rounds.append(len(to))
        await offer(self, seq, chunk, patience, to)

    monkeypatch.setattr(broadcast.Broadcaster, "_offer", counted)
    return rounds


def _heartbeats(seconds: float, hold_after: float = 0.0, hold: float = 0.0) -> list[list[float]]:
    """When each of 100 streams on a quiet node got its heartbeats over ``seconds``; with a
    ``hold``, the event loop is held that long (as a long fan-out would) ``hold_after`` in."""

    async def scenario() -> list[list[float]]:
        feed: Any = _QuietFeed()
        hub = broadcast.Broadcaster(feed, _never_read, lambda event: None, 1_000, lambda: False)
        streams = [s for s in (hub.subscribe("tok_key", 7) for _ in range(100)) if s is not None]
        beats: dict[Subscriber, list[float]] = {s: [] for s in streams}
        loop = asyncio.get_running_loop()
        start = loop.time()
        held = not hold
        while loop.time() < start + seconds:
            await asyncio.sleep(0.005)
            if not held and loop.time() > start + hold_after:
                time.sleep(hold)
                held = True
            for subscriber, seen in beats.items():
                if subscriber.pending:
                    seen += [loop.time()] * subscriber.take().count(b"event: heartbeat")
        for subscriber in streams:
            hub.unsubscribe(subscriber)
        return list(beats.values())

    return asyncio.run(scenario())


def test_heartbeats_take_turns_so_no_tick_writes_to_every_stream(offers: list[int]) -> None:
    """Each stream gets a heartbeat every ``heartbeat``, but a tick offers it to the streams
    whose turn it is, not to all: a revocation never waits behind thousands of them."""
    beats = _heartbeats(0.8)
    assert len(beats) == 100
    for seen in beats:  # every stream, about every quarter second
        assert len(seen) >= 2
        assert max(b - a for a, b in itertools.pairwise(seen)) < 0.5
    assert statistics.median(offers) <= 8  # a tick's turn: 100 streams / 25 turns
    assert sum(offers) >= 200


def test_heartbeat_turns_missed_while_the_loop_was_held_are_made_up_two_a_tick(
    offers: list[int],
) -> None:
    """A hold of six turns (a long fan-out, say) is not followed by one heartbeat to the
    streams of all six turns at once, which a request arriving then would wait behind; every
    stream still gets its heartbeat about every ``heartbeat``."""
    beats = _heartbeats(1.2, hold_after=0.3, hold=0.06)  # six turns of 10 ms go by
    assert max(offers) <= 2 * 4  # two turns of 100 streams / 25 turns, never six
    for seen in beats:
        assert len(seen) >= 3
        assert max(b - a for a, b in itertools.pairwise(seen)) < 0.5
