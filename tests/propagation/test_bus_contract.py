"""One contract for every way a node learns that the log grew: PostgreSQL NOTIFY, Redis
pub/sub, and polling. A follower on its own connections applies what another node writes:

- in log order, each event once, while two writers commit at the same time;
- after a lost wake-up (an event written with no NOTIFY or publish), within the heartbeat;
- after its bus connection is killed (``pg_terminate_backend``, Redis ``CLIENT KILL``; for
  polling, its database connections), by reconnecting: pushed again within milliseconds.

Every case runs on the run's own PostgreSQL schema; the connections under test carry an
``application_name`` (Redis: a client name) of their own, so killing them touches nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
import redis

from backends import PG_DSN, PostgresSchema, require_service
from tokenward.domain.model import Event
from tokenward.propagation.buses import Bus, LocalBus, PostgresBus, RedisBus
from tokenward.propagation.cache import FreshCache
from tokenward.propagation.follower import LogFollower
from tokenward.store.sql import SqlStore, psycopg_dsn
from tokenward.store.tables import events

REDIS_URL = "redis://127.0.0.1:6379/0"
PUSH_HEARTBEAT = 2.5  # seconds: a wake-up pushed by the bus arrives well before this
POLL_HEARTBEAT = 0.2
PUSHED = 1.0  # seconds: what counts as woken by the bus, not by the heartbeat


class RecordingCache(FreshCache):
    """The real cache, noting the seq of every event applied to it, in order."""

    def __init__(self) -> None:
        super().__init__(max_staleness=60.0)
        self.seqs: list[int] = []

    def apply(self, events: Iterable[Event], read_started: float | None) -> None:
        batch = list(events)
        self.seqs += [e.seq or 0 for e in batch]
        super().apply(batch, read_started)


class Rig:
    """A writing node's store, and a following node: its own store, bus, cache and follower."""

    def __init__(self, kind: str, schema: PostgresSchema) -> None:
        self.kind = kind
        self.name = f"tw_bus_{uuid4().hex[:12]}"
        self.writer = SqlStore(schema.url)
        follow_url = f"{schema.url}&application_name={self.name}_follow"
        self.reader = SqlStore(follow_url)
        self.heartbeat = POLL_HEARTBEAT if kind == "polling" else PUSH_HEARTBEAT
        self.bus = self._bus(follow_url)
        self.cache = RecordingCache()
        self.follower = LogFollower(self.reader, self.cache, self.bus, self.heartbeat)

    def _bus(self, follow_url: str) -> Bus:
        if self.kind == "postgres":
            return PostgresBus(psycopg_dsn(follow_url.replace("_follow", "_listen")))
        if self.kind == "redis":
            publisher = RedisBus(REDIS_URL)
            self.writer.on_commit(publisher.publish)  # the writing node publishes its commits
            return RedisBus(f"{REDIS_URL}?client_name={self.name}_listen")
        return LocalBus()  # woken by nothing another node does: it polls

    def write(self, count: int = 1) -> int:
        """Append ``count`` events in one transaction, as a node does (with its wake-up)."""
        with self.writer.transaction() as tx:
            for _ in range(count):
                seq = tx.events.append(Event("test.bus", datetime.now(UTC), "test", "bus"))
        return seq

    def write_without_wake_up(self) -> int:
        """Append an event straight into the table: no NOTIFY goes out, nothing is published."""
        values = {"at": datetime.now(UTC), "type": "test.bus", "actor": "test", "subject": "bus"}
        with self.writer.writer.begin() as conn:
            stmt = events.insert().values(**values, details={}).returning(events.c.seq)
            return int(conn.execute(stmt).scalar_one())

    def applied(self, seq: int, limit: float = 10.0) -> float:
        """Seconds until the follower has applied ``seq``."""
        start = time.monotonic()
        while self.cache.applied_seq < seq:
            if time.monotonic() - start > limit:
                pytest.fail(f"event {seq} not applied within {limit} s over {self.kind}")
            time.sleep(0.002)
        return time.monotonic() - start

    def close(self) -> None:
        self.follower.stop()
        self.writer.dispose()
        self.reader.dispose()


def _redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["postgres", "redis", "polling"])
def rig(request: pytest.FixtureRequest, _postgres_schema: PostgresSchema | None) -> Iterator[Rig]:
    require_service("PostgreSQL (127.0.0.1:5432)", _postgres_schema is not None)
    assert _postgres_schema is not None
    if request.param == "redis":
        require_service("Redis (127.0.0.1:6379)", _redis_reachable())
    _postgres_schema.empty()
    built = Rig(request.param, _postgres_schema)
    built.follower.start()
    _until(built.cache.is_fresh, "the follower never read the log")
    if request.param != "polling":
        _until(lambda: _listening(built), "the bus never connected")
    yield built
    built.close()


def _until(condition: Callable[[], bool], failure: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(0.005)


def _listening(rig: Rig) -> bool:
    """The bus's own connection is up and subscribed."""
    if rig.kind == "redis":
        clients = redis.Redis.from_url(REDIS_URL).client_list()
        return any(c["name"] == f"{rig.name}_listen" and int(c["sub"]) > 0 for c in clients)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND query LIKE 'LISTEN%%'",
            (f"{rig.name}_listen",),
        ).fetchone()
    return bool(found and found[0])


def _kill(rig: Rig) -> int:
    """Kill the connection the node is woken through; how many were killed."""
    if rig.kind == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        mine = [c["id"] for c in client.client_list() if c["name"] == f"{rig.name}_listen"]
        for client_id in mine:
            client.client_kill_filter(_id=client_id)
        return len(mine)
    suffix = "_follow" if rig.kind == "polling" else "_listen"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (rig.name + suffix,),
        ).fetchall()
    return len(rows)


def test_events_are_applied_in_log_order_each_once_while_two_nodes_write(rig: Rig) -> None:
    start = threading.Barrier(2)

    def writer() -> None:
        start.wait()
        for _ in range(15):
            rig.write(2)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    newest = rig.writer.max_seq()
    rig.applied(newest)
    assert newest == 60
    assert rig.cache.seqs == list(range(1, newest + 1))


def test_a_lost_wake_up_is_made_good_within_the_heartbeat(rig: Rig) -> None:
    rig.applied(rig.write())  # the follower is in its wait again
    seq = rig.write_without_wake_up()
    took = rig.applied(seq)
    assert took < rig.heartbeat + 1.0  # the heartbeat read found it (slack: a loaded machine)
    assert rig.cache.seqs == [1, 2]


def test_a_killed_bus_connection_is_reconnected_and_wakes_the_node_again(rig: Rig) -> None:
    rig.applied(rig.write())
    assert _kill(rig) >= 1
    if rig.kind != "polling":
        _until(lambda: _listening(rig), "the bus did not reconnect")
    took = rig.applied(rig.write())
    bound = POLL_HEARTBEAT + PUSHED if rig.kind == "polling" else PUSHED
    assert took < bound  # woken again, not left to the heartbeat
    assert rig.cache.seqs == [1, 2]
