"""One small protocol per aggregate, reached from a transaction (``tx.tokens``, ``tx.users``…).

Every state change that must happen once is one conditional write: it answers whether this
call made the change, so that of two racing callers only the winner writes the event.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from tokenward.domain.model import Event, SessionRecord, TokenRecord, UserRecord, UserStatus
from tokenward.store.records import (
    Alarm,
    DeliveryRecord,
    DeliveryUpdate,
    EventQuery,
    Rotated,
    TokenQuery,
    WebhookRecord,
)

__all__ = [
    "DeliveryRepository",
    "EventLog",
    "LeaseRepository",
    "PolicyRepository",
    "ReminderRepository",
    "SessionRepository",
    "TokenRepository",
    "UserRepository",
    "WebhookRepository",
]


class TokenRepository(Protocol):
    def add(self, token: TokenRecord) -> None:
        """Insert a token; a digest already stored is a
        :class:`~tokenward.domain.errors.Conflict`, an expiry before its creation a
        ``ValueError`` (:func:`~tokenward.store.records.check_new_token`)."""
        ...

    def by_id(self, token_id: str) -> TokenRecord | None: ...

    def by_ids(self, ids: Collection[str]) -> list[TokenRecord]:
        """The tokens among ``ids`` that exist, in one read (unknown ids are left out)."""
        ...

    def list(self, query: TokenQuery) -> list[TokenRecord]: ...

    def revoke(self, token_id: str, at: datetime, by: str, reason: str) -> TokenRecord | None:
        """Revoke the token if it is not revoked yet and return it as now stored; None (nothing
        changed) if it was revoked already, by an earlier call or a concurrent one."""
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


class UserRepository(Protocol):
    def add(self, user: UserRecord) -> None:
        """Insert a user; raise :class:`~tokenward.domain.errors.Conflict` if the name is taken."""
        ...

    def by_id(self, user_id: str) -> UserRecord | None: ...

    def by_name(self, username: str) -> UserRecord | None: ...

    def by_ids(self, ids: Collection[str]) -> list[UserRecord]:
        """The users among ``ids`` that exist, in one read."""
        ...

    def count(self) -> int: ...

    def count_active_admins(self) -> int: ...

    def set_status(self, user_id: str, status: UserStatus) -> bool:
        """Set the status if it differs; False (nothing changed) if it was ``status`` already."""
        ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace a user's password hash (never the password itself)."""
        ...

    def list(self, now: datetime) -> list[tuple[UserRecord, int]]:
        """Every user, by name, with the number of its active tokens."""
        ...

    def emails_of(self, user_ids: Collection[str]) -> dict[str, str]:
        """The email address of each of these users that has one."""
        ...


class SessionRepository(Protocol):
    def add(self, session: SessionRecord) -> None: ...

    def by_ids(self, ids: Collection[str]) -> list[SessionRecord]:
        """The sessions among ``ids`` that exist, in one read."""
        ...

    def live_of(self, user_id: str, now: datetime) -> list[SessionRecord]: ...

    def end(self, session_id: str, at: datetime) -> bool:
        """End a session once: True only for the call that ended it."""
        ...


class EventLog(Protocol):
    last_seq: int  # the seq of the newest event appended in this transaction, 0 if none

    def append(self, event: Event) -> int:
        """Append to the event log and return the event's ``seq``."""
        ...

    def query(self, query: EventQuery) -> list[Event]: ...


class PolicyRepository(Protocol):
    def load(self) -> dict[str, object] | None:
        """The stored policy document, or None if none was ever stored."""
        ...

    def save(self, document: dict[str, object], at: datetime) -> None: ...


class WebhookRepository(Protocol):
    def add(self, webhook: WebhookRecord) -> None: ...

    def all(self) -> list[WebhookRecord]:
        """Every endpoint, oldest first."""
        ...

    def by_id(self, webhook_id: str) -> WebhookRecord | None: ...

    def delete(self, webhook_id: str) -> bool:
        """Delete the endpoint and its delivery log; False if there was none."""
        ...


class DeliveryRepository(Protocol):
    def cursor(self) -> int:
        """How far the dispatcher has turned the event log into deliveries."""
        ...

    def advance(self, old: int, new: int) -> bool:
        """Move the cursor from ``old`` to ``new``; False (nothing changed) if it is elsewhere."""
        ...

    def plan(self, planned: Sequence[DeliveryRecord]) -> None:
        """Insert deliveries; one for a (channel, target, event) already planned is a
        :class:`~tokenward.domain.errors.Conflict`."""
        ...

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]: ...

    def update(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        """Write ``update`` if the row is still as ``delivery`` read it; False otherwise."""
        ...

    def of_target(self, target: str, limit: int) -> list[DeliveryRecord]:
        """A target's deliveries, newest event first."""
        ...


class ReminderRepository(Protocol):
    def candidates(
        self, mark: str, expiring_after: datetime, expiring_by: datetime, limit: int
    ) -> list[TokenRecord]:
        """Unrevoked tokens expiring in (``expiring_after``, ``expiring_by``] that have no
        reminder ``mark`` yet."""
        ...

    def claim(self, token_id: str, mark: str, at: datetime) -> bool:
        """Record reminder ``mark`` of ``token_id`` once: False if it was recorded already."""
        ...

    def link(self, token_id: str, mark: str, seq: int) -> None:
        """Note the event a claimed reminder was sent as."""
        ...


class LeaseRepository(Protocol):
    def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``until``; False if another
        holder's lease is still unexpired at ``now``."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` holds it, so another node may take it at once."""
        ...
