"""The storage protocols the service is written against."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Literal, Protocol

from tokenward.domain.model import (
    Event,
    NodeRecord,
    SessionRecord,
    TokenRecord,
    TokenStatus,
    UserRecord,
    UserStatus,
)
from tokenward.domain.tokens import TokenKind

__all__ = ["Alarm", "EventQuery", "LastUse", "Rotated", "Store", "StoreTransaction", "TokenQuery"]

Alarm = Literal["dead_use", "reuse"]  # the alarms whose reports are rate-limited per token


@dataclasses.dataclass(frozen=True)
class LastUse:
    """A token's latest use seen by this node: written in batches, never as an event."""

    token_id: str
    at: datetime
    ip: str | None


@dataclasses.dataclass(frozen=True)
class Rotated:
    """What a rotation records on the old token."""

    rotated_to: str
    at: datetime
    grace_seconds: int
    grace_until: datetime  # the hard cap until the new token's first use starts the grace


@dataclasses.dataclass(frozen=True)
class TokenQuery:
    """Which tokens to list: a user's, newest first, optionally by status, after a cursor."""

    user_id: str | None  # None: every user's (admin listing)
    now: datetime
    status: TokenStatus | None = None
    before: tuple[datetime, str] | None = None  # (created_at, id) of the last item already seen
    limit: int = 50
    kind: TokenKind | None = None


@dataclasses.dataclass(frozen=True)
class EventQuery:
    """A slice of the event log: events with ``after < seq < before``, oldest first (or newest
    first with ``newest_first``, for a reader paging back from the end), optionally only those
    at ``since <= at < until``."""

    after: int = 0
    limit: int = 100
    type: str | None = None
    subject: str | None = None
    actor: str | None = None
    before: int | None = None
    newest_first: bool = False
    since: datetime | None = None
    until: datetime | None = None


class StoreTransaction(Protocol):
    """Reads and writes inside one transaction; all of it commits or none of it does."""

    last_seq: int  # the seq of the newest event appended in this transaction, 0 if none

    def add_user(self, user: UserRecord) -> None:
        """Insert a user; raise :class:`~tokenward.domain.errors.Conflict` if the name is taken."""
        ...

    def user_by_id(self, user_id: str) -> UserRecord | None: ...

    def user_by_name(self, username: str) -> UserRecord | None: ...

    def count_users(self) -> int: ...

    def add_token(self, token: TokenRecord) -> None: ...

    def token_by_id(self, token_id: str) -> TokenRecord | None: ...

    def list_tokens(self, query: TokenQuery) -> list[TokenRecord]: ...

    def revoke_token(self, token_id: str, at: datetime, by: str, reason: str) -> None:
        """Mark a token revoked; a token already revoked keeps its first revocation."""
        ...

    def append_event(self, event: Event) -> int:
        """Append to the event log and return the event's ``seq``."""
        ...

    def mark_rotated(self, token_id: str, rotation: Rotated) -> bool:
        """Record that ``token_id`` was replaced, if it is neither revoked nor rotated yet;
        False (nothing changed) otherwise, so that two rotations cannot both win."""
        ...

    def start_grace(self, token_id: str, at: datetime, grace_until: datetime) -> bool:
        """Start the grace of rotated ``token_id`` once: True only for the first call."""
        ...

    def add_dead_uses(self, token_id: str, count: int, at: datetime, ip: str | None) -> int:
        """Add ``count`` presentations of a dead token (latest ``at`` from ``ip``) to its
        tombstone; return the total so far."""
        ...

    def claim_alarm(self, token_id: str, alarm: Alarm, at: datetime, every: timedelta) -> bool:
        """True if no report of ``alarm`` for ``token_id`` was made in the ``every`` before
        ``at``, recording this one: at most one report an interval, whichever node asks."""
        ...

    def set_user_status(self, user_id: str, status: UserStatus) -> None: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace a user's password hash (never the password itself)."""
        ...

    def list_users(self, now: datetime) -> list[tuple[UserRecord, int]]:
        """Every user, by name, with the number of its active tokens."""
        ...

    def count_active_admins(self) -> int: ...

    def add_session(self, session: SessionRecord) -> None: ...

    def live_sessions_of(self, user_id: str, now: datetime) -> list[SessionRecord]: ...

    def revoke_session(self, session_id: str, at: datetime) -> None: ...

    def load_policy(self) -> dict[str, object] | None:
        """The stored policy document, or None if none was ever stored."""
        ...

    def save_policy(self, document: dict[str, object], at: datetime) -> None: ...

    def events(self, query: EventQuery) -> list[Event]: ...

    def tokens_by_ids(self, ids: Collection[str]) -> list[TokenRecord]:
        """The tokens among ``ids`` that exist, in one read (unknown ids are left out)."""
        ...

    def sessions_by_ids(self, ids: Collection[str]) -> list[SessionRecord]:
        """The sessions among ``ids`` that exist, in one read."""
        ...

    def users_by_ids(self, ids: Collection[str]) -> list[UserRecord]:
        """The users among ``ids`` that exist, in one read."""
        ...


class Store(Protocol):
    """A token store. Writes go through :meth:`transaction`; the verify read does not."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]: ...

    @property
    def writes(self) -> int:
        """Data-changing statements (transactions, for the memory store) this process has
        sent: on /metrics, so a load test can show that requests do not write."""
        ...

    def principal_by_digest(self, digest: str) -> tuple[TokenRecord, UserRecord] | None:
        """The token with this digest and its owner, in one read: the verify path."""
        ...

    def session_by_digest(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session with this cookie digest and its owner, in one read."""
        ...

    def events_after(self, seq: int, limit: int = 100) -> list[Event]: ...

    def record_last_used(self, uses: Sequence[LastUse]) -> None:
        """Write each token's last use, in one batch, keeping a newer stored one. Not an
        event: it would flood the log and empty every cache."""
        ...

    def report_node(self, node: NodeRecord) -> None:
        """Insert or update a node's row (its watermark and heartbeat)."""
        ...

    def nodes_seen_since(self, moment: datetime) -> list[NodeRecord]:
        """Nodes whose last heartbeat is at or after ``moment``."""
        ...

    def max_seq(self) -> int:
        """The ``seq`` of the newest event, 0 for an empty log."""
        ...

    def on_commit(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(seq)`` after each commit that appended events (newest ``seq``)."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...

    def dispose(self) -> None:
        """Close every connection the store holds."""
        ...
