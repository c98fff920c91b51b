"""An in-memory store with real transaction semantics, for unit tests and ``tokenward.testing``."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from tokenward.domain.model import Event, NodeRecord, SessionRecord, TokenRecord, UserRecord
from tokenward.store.memory.events import MemoryEventLog, MemoryPolicy
from tokenward.store.memory.notices import (
    MemoryDeliveries,
    MemoryLeases,
    MemoryReminders,
    MemoryWebhooks,
)
from tokenward.store.memory.state import State
from tokenward.store.memory.tokens import MemoryTokens
from tokenward.store.memory.users import MemorySessions, MemoryUsers
from tokenward.store.records import LastUse

__all__ = ["MemoryStore", "MemoryTransaction"]


class MemoryTransaction:
    """A :class:`~tokenward.store.base.StoreTransaction` over a copy of the whole state."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.tokens = MemoryTokens(state)
        self.users = MemoryUsers(state)
        self.sessions = MemorySessions(state)
        self.events = MemoryEventLog(state)
        self.policy = MemoryPolicy(state)
        self.webhooks = MemoryWebhooks(state)
        self.deliveries = MemoryDeliveries(state)
        self.reminders = MemoryReminders(state)
        self.leases = MemoryLeases(state)


class MemoryStore:
    """Everything in a dict; a transaction works on a copy that replaces the state on commit."""

    def __init__(self) -> None:
        self._state = State()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []
        self._nodes: dict[str, NodeRecord] = {}
        self.writes = 0

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        with self._lock:
            before = len(self._state.events)
            tx = MemoryTransaction(self._state.copy())
            yield tx
            self._state = tx.state
            self.writes += 1
        if len(self._state.events) > before:
            for listener in self._listeners:
                listener(len(self._state.events))

    def report_node(self, node: NodeRecord) -> None:
        with self._lock:
            self.writes += 1
            self._nodes[node.id] = node

    def nodes_seen_since(self, moment: datetime) -> list[NodeRecord]:
        return sorted(
            (n for n in self._nodes.values() if n.heartbeat_at >= moment), key=lambda n: n.id
        )

    def max_seq(self) -> int:
        return len(self._state.events)

    def on_commit(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    def principal_by_digest(self, digest: str) -> tuple[TokenRecord, UserRecord] | None:
        state = self._state
        token = next((t for t in state.tokens.values() if t.digest == digest), None)
        return None if token is None else (token, state.users[token.user_id])

    def session_by_digest(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        state = self._state
        session = next((s for s in state.sessions.values() if s.digest == digest), None)
        return None if session is None else (session, state.users[session.user_id])

    def events_after(self, seq: int, limit: int = 100) -> list[Event]:
        return self._state.events[seq : seq + limit]

    def record_last_used(self, uses: Sequence[LastUse]) -> None:
        with self._lock:
            self.writes += 1
            found = self._state.tokens
            for use in uses:
                token = found.get(use.token_id)
                stored = None if token is None else token.last_used_at
                if token is not None and (stored is None or stored < use.at):
                    found[use.token_id] = dataclasses.replace(
                        token, last_used_at=use.at, last_used_from=use.ip
                    )

    def ping(self) -> None:
        return None

    def dispose(self) -> None:
        return None
