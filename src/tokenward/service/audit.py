"""The audit log: reading it, and recording refused actions (which change no state)."""

from __future__ import annotations

from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import Actor, Event
from tokenward.store.base import EventQuery, Store

__all__ = ["AuditService"]

MAX_PAGE = 1000


class AuditService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def query(self, query: EventQuery) -> list[Event]:
        """Events after ``query.after``, oldest first."""
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
        if query.after < 0:
            raise InvalidInput("after", "must not be negative")
        with self.store.transaction() as tx:
            return tx.events(query)

    def failed(self, by: Actor, action: str, subject: str, reason: str) -> None:
        """Record an admin action that failed (bad input, conflict, not found)."""
        with self.store.transaction() as tx:
            details = {"action": action, "reason": reason}
            tx.append_event(by.event("admin.failed", self.clock.now(), subject, details, "failed"))

    def denied(self, by: Actor, action: str, subject: str, reason: str) -> None:
        """Record an admin action that was refused: who tried what, from where, and why."""
        with self.store.transaction() as tx:
            details = {"action": action, "reason": reason}
            tx.append_event(by.event("admin.denied", self.clock.now(), subject, details, "denied"))
