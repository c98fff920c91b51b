"""Buses: how a node learns, within milliseconds, that the event log has grown.

A bus only wakes the follower; the follower then reads the log itself. A lost or late message
costs latency, never correctness: the follower also reads on a heartbeat, and a node that has
not confirmed freshness within ``max_staleness`` stops serving from its cache.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Protocol

import psycopg
import redis

from tokenward.domain.model import EVENTS_CHANNEL as CHANNEL

__all__ = ["CHANNEL", "Bus", "LocalBus", "PostgresBus", "RedisBus"]

log = logging.getLogger("tokenward.propagation")
_RETRY_PAUSE = 0.05  # seconds between reconnection attempts


class Bus(Protocol):
    def wait(self, timeout: float) -> None:
        """Return when the log may have grown, or after ``timeout`` seconds."""
        ...

    def publish(self, seq: int) -> None:
        """Tell the nodes that events up to ``seq`` were committed (after the commit)."""
        ...

    def close(self) -> None: ...


class LocalBus:
    """Wakes this process's follower only: with SQLite (other processes poll) and in tests."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()

    def publish(self, seq: int) -> None:
        self._event.set()

    def close(self) -> None:
        self._event.set()


class PostgresBus:
    """LISTEN on a connection of its own. The NOTIFY is sent by the store inside the writing
    transaction, so PostgreSQL delivers it exactly when the change is committed."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        self._pause = threading.Event()
        self._closed = False

    def wait(self, timeout: float) -> None:
        if self._closed:
            return
        try:
            conn = self._connection()
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as error:
            if self._closed:
                return
            # Reconnected on the next wait; meanwhile the heartbeat read keeps the node correct.
            log.warning("PostgreSQL bus lost (%s); reconnecting", type(error).__name__)
            self._drop()
            self._pause.wait(min(timeout, _RETRY_PAUSE))

    def publish(self, seq: int) -> None:
        """Nothing to do: the NOTIFY went out with the transaction."""

    def close(self) -> None:
        self._closed = True
        self._pause.set()
        self._drop()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            if self._closed:
                raise psycopg.OperationalError("the bus is closed")
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
            conn.execute(f"LISTEN {CHANNEL}")
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


class RedisBus:
    """Redis pub/sub: each node publishes after its commits and wakes on every message."""

    def __init__(self, url: str) -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
        self._pubsub: Any = None
        self._pause = threading.Event()
        self._closed = False

    def wait(self, timeout: float) -> None:
        if self._closed:
            return
        try:
            if self._pubsub is None:
                pubsub = self._client.pubsub()
                pubsub.subscribe(CHANNEL)
                self._pubsub = pubsub
            self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        except Exception as error:
            if self._closed:  # closed under our feet by stop(): whatever it raised, we are done
                return
            if not isinstance(error, redis.RedisError | OSError | ValueError):
                raise
            log.warning("Redis bus lost (%s); reconnecting", type(error).__name__)
            self._pubsub = None
            self._pause.wait(min(timeout, _RETRY_PAUSE))

    def publish(self, seq: int) -> None:
        try:
            self._client.publish(CHANNEL, str(seq))
        except (redis.RedisError, OSError) as error:
            # The other nodes still learn of it on their next heartbeat read.
            log.warning("could not publish event %d to Redis (%s)", seq, type(error).__name__)

    def close(self) -> None:
        self._closed = True
        self._pause.set()
        with contextlib.suppress(redis.RedisError, OSError):
            if self._pubsub is not None:
                self._pubsub.close()
            self._client.close()
