"""The audit log: reading it, and recording refused actions (which change no state)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import MAX_SEQ, Actor, Event, SessionRecord, TokenRecord, UserRecord
from tokenward.store.base import EventQuery, Store

__all__ = ["AuditService", "Parties"]

MAX_PAGE = 1000
# Where an event names a user or a token besides its actor and subject.
_REFERENCES = ("user_id", "token_id", "rotated_to")


@dataclasses.dataclass(frozen=True)
class Parties:
    """The tokens, sessions and users a page of events refers to, by id: what a reader needs
    to name "alice via token 'ci deploy'" instead of ``tok_…``."""

    tokens: dict[str, TokenRecord]
    sessions: dict[str, SessionRecord]
    users: dict[str, UserRecord]

    def owner_of(self, credential_id: str) -> UserRecord | None:
        """The user behind a token or session id, if both are known."""
        found = self.tokens.get(credential_id) or self.sessions.get(credential_id)
        return None if found is None else self.users.get(found.user_id)


class AuditService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def query(self, query: EventQuery) -> list[Event]:
        """Events after ``query.after`` (and before ``query.before``), oldest first unless
        ``query.newest_first``."""
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
        if not 0 <= query.after <= MAX_SEQ:
            raise InvalidInput("after", f"must be between 0 and {MAX_SEQ}")
        if query.before is not None and not 1 <= query.before <= MAX_SEQ:
            raise InvalidInput("before", f"must be between 1 and {MAX_SEQ}")
        with self.store.transaction() as tx:
            return tx.events.query(query)

    def parties(self, events: Iterable[Event]) -> Parties:
        """Every token, session and user the ``events`` name, in three reads whatever their
        number (their owners included)."""
        ids = {i for event in events for i in _referenced(event)}
        with self.store.transaction() as tx:
            tokens = {t.id: t for t in tx.tokens.by_ids(_prefixed(ids, "tok_"))}
            sessions = {s.id: s for s in tx.sessions.by_ids(_prefixed(ids, "ses_"))}
            owners = {t.user_id for t in tokens.values()} | {s.user_id for s in sessions.values()}
            users = {u.id: u for u in tx.users.by_ids(_prefixed(ids, "usr_") | owners)}
        return Parties(tokens, sessions, users)

    def failed(self, by: Actor, action: str, subject: str, reason: str) -> None:
        """Record an admin action that failed (bad input, conflict, not found)."""
        with self.store.transaction() as tx:
            details = {"action": action, "reason": reason}
            tx.events.append(by.event("admin.failed", self.clock.now(), subject, details, "failed"))

    def denied(self, by: Actor, action: str, subject: str, reason: str) -> None:
        """Record an admin action that was refused: who tried what, from where, and why."""
        with self.store.transaction() as tx:
            details = {"action": action, "reason": reason}
            tx.events.append(by.event("admin.denied", self.clock.now(), subject, details, "denied"))


def _referenced(event: Event) -> list[str]:
    named = [event.details.get(key) for key in _REFERENCES]
    return [event.actor, event.subject, *(i for i in named if isinstance(i, str))]


def _prefixed(ids: set[str], prefix: str) -> set[str]:
    return {i for i in ids if i.startswith(prefix)}
