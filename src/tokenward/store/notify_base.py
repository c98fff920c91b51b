"""The notifier's storage protocol and records: lease, reminders, dispatch cursor, webhooks,
deliveries. The SQL implementation is :mod:`tokenward.store.notify_sql`."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol

from tokenward.domain.model import Event, TokenRecord

__all__ = ["DeliveryRecord", "DeliveryUpdate", "NotifyStore", "WebhookRecord"]


@dataclasses.dataclass(frozen=True)
class WebhookRecord:
    """An endpoint that receives the events it subscribed to, signed with ``secret``."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str = dataclasses.field(repr=False)  # kept as is: it signs, so it is no digest
    created_at: datetime
    created_by: str
    after_seq: int  # only events after this one are sent: no history from before it existed


@dataclasses.dataclass(frozen=True)
class DeliveryRecord:
    """One event for one target (a webhook id or an email address) and its retry state."""

    id: str
    channel: str  # "webhook" or "email"
    target: str
    event_seq: int
    event_type: str
    status: str  # "pending", "delivered" or "failed"
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class DeliveryUpdate:
    """The outcome of one attempt, written only if nobody else wrote one since (``attempts``)."""

    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_code: int | None
    last_error: str | None
    delivered_at: datetime | None


class NotifyStore(Protocol):
    """What the notifier needs from the database. Every write that must happen once is
    guarded by the data itself (a key, or a compare-and-set), not only by the lease."""

    def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``until``; False if another
        holder's lease is still unexpired at ``now``."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` holds it, so another node may take it at once."""
        ...

    def reminder_candidates(
        self, mark: str, expiring_after: datetime, expiring_by: datetime, limit: int
    ) -> list[TokenRecord]:
        """Unrevoked tokens expiring in (``expiring_after``, ``expiring_by``] that have no
        reminder ``mark`` yet."""
        ...

    def send_reminder(self, token_id: str, mark: str, at: datetime, event: Event | None) -> bool:
        """Record reminder ``mark`` and append ``event`` in one transaction (``None``: record
        it as skipped); False (nothing written) if that reminder was already recorded."""
        ...

    def dispatch_cursor(self) -> int: ...

    def advance_dispatch(self, old: int, new: int, planned: list[DeliveryRecord]) -> bool:
        """Insert ``planned`` and move the cursor from ``old`` to ``new`` in one transaction;
        False (nothing written) if the cursor was moved meanwhile or a delivery exists."""
        ...

    def due_deliveries(self, now: datetime, limit: int) -> list[DeliveryRecord]: ...

    def update_delivery(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        """Write ``update`` if the row is still as ``delivery`` read it; False otherwise."""
        ...

    def add_webhook(self, webhook: WebhookRecord, event: Event) -> None: ...

    def webhooks(self) -> list[WebhookRecord]: ...

    def webhook_by_id(self, webhook_id: str) -> WebhookRecord | None: ...

    def delete_webhook(self, webhook_id: str, event: Event) -> bool:
        """Delete the endpoint and its delivery log; False if there was none."""
        ...

    def deliveries_of(self, target: str, limit: int) -> list[DeliveryRecord]:
        """A target's deliveries, newest first."""
        ...

    def emails_of(self, user_ids: set[str]) -> dict[str, str]:
        """The email address of each of these users that has one."""
        ...
