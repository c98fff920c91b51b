"""The storage protocols the service is written against: a :class:`Store` whose transactions
reach one repository per aggregate (:mod:`tokenward.store.repositories`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from tokenward.domain.model import Event, NodeRecord, SessionRecord, TokenRecord, UserRecord
from tokenward.store.records import (
    Alarm,
    DeliveryRecord,
    DeliveryUpdate,
    EventQuery,
    LastUse,
    Rotated,
    TokenQuery,
    WebhookRecord,
)
from tokenward.store.repositories import (
    DeliveryRepository,
    EventLog,
    LeaseRepository,
    PolicyRepository,
    ReminderRepository,
    SessionRepository,
    TokenRepository,
    UserRepository,
    WebhookRepository,
)

__all__ = [
    "Alarm",
    "DeliveryRecord",
    "DeliveryUpdate",
    "EventQuery",
    "LastUse",
    "Rotated",
    "Store",
    "StoreTransaction",
    "TokenQuery",
    "WebhookRecord",
]


class StoreTransaction(Protocol):
    """One transaction over every aggregate; all of it commits or none of it does."""

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def policy(self) -> PolicyRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def reminders(self) -> ReminderRepository: ...

    @property
    def leases(self) -> LeaseRepository: ...


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
