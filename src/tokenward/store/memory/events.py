"""The event log and the policy document in memory."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tokenward.domain.model import Event
from tokenward.store.memory.state import State
from tokenward.store.records import EventQuery

__all__ = ["MemoryEventLog", "MemoryPolicy"]


class MemoryEventLog:
    """A :class:`~tokenward.store.repositories.EventLog` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.last_seq = 0

    def append(self, event: Event) -> int:
        seq = len(self.state.events) + 1
        self.state.events.append(dataclasses.replace(event, seq=seq))
        self.last_seq = seq
        return seq

    def query(self, query: EventQuery) -> list[Event]:
        found = [e for e in self.state.events if _matches(query, e)]
        if query.newest_first:
            found.reverse()
        return found[: query.limit]


def _matches(query: EventQuery, event: Event) -> bool:
    seq = event.seq or 0
    return (
        seq > query.after
        and (query.before is None or seq < query.before)
        and query.type in (None, event.type)
        and query.subject in (None, event.subject)
        and query.actor in (None, event.actor)
        and (query.since is None or event.at >= query.since)
        and (query.until is None or event.at < query.until)
    )


class MemoryPolicy:
    """A :class:`~tokenward.store.repositories.PolicyRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def load(self) -> dict[str, object] | None:
        return self.state.policy

    def save(self, document: dict[str, object], at: datetime) -> None:
        self.state.policy = dict(document)
