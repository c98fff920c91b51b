"""Dispatch: turn the event log into delivery rows, from a cursor kept in the database.

The rows and the cursor's move are one transaction, and the move is a compare-and-set: a
restart goes on where the last commit left off (nothing lost, nothing repeated), and a second
dispatcher by mistake loses the race instead of delivering twice.
"""

from __future__ import annotations

from tokenward.domain.clock import Clock
from tokenward.domain.errors import Conflict
from tokenward.domain.model import Event
from tokenward.domain.tokens import new_id
from tokenward.notify.events import NOTIFY_TYPES, owner_of
from tokenward.store.base import DeliveryRecord, Store, WebhookRecord

__all__ = ["EMAIL", "WEBHOOK", "Dispatcher"]

WEBHOOK = "webhook"
EMAIL = "email"
_BATCH = 500
_MAX_STEPS = 20


class Dispatcher:
    """Reads events after the cursor and plans one delivery per subscribed endpoint and one
    email to the owner (when email is on and the owner has an address)."""

    def __init__(self, store: Store, clock: Clock, *, email: bool) -> None:
        self.store = store
        self.clock = clock
        self.email = email

    def step(self) -> int | None:
        """Dispatch one batch; returns how many deliveries it planned, or None when there was
        nothing new or another dispatcher moved the cursor first."""
        with self.store.transaction() as tx:
            cursor = tx.deliveries.cursor()
        events = self.store.events_after(cursor, limit=_BATCH)
        if not events:
            return None
        planned = self._plan([e for e in events if e.type in NOTIFY_TYPES])
        last = events[-1].seq or cursor
        return len(planned) if self.advance(cursor, last, planned) else None

    def advance(self, old: int, new: int, planned: list[DeliveryRecord]) -> bool:
        """Insert ``planned`` and move the cursor from ``old`` to ``new`` in one transaction;
        False (nothing written) if the cursor was moved meanwhile or a delivery exists."""
        try:
            with self.store.transaction() as tx:
                if not tx.deliveries.advance(old, new):
                    raise Conflict("the dispatch cursor moved")
                tx.deliveries.plan(planned)
        except Conflict:
            return False
        return True

    def run(self) -> int:
        """Dispatch until the cursor reaches the end of the log (or a bound: the next tick
        goes on); returns how many deliveries were planned."""
        total = 0
        for _ in range(_MAX_STEPS):
            planned = self.step()
            if planned is None:
                break
            total += planned
        return total

    def _plan(self, events: list[Event]) -> list[DeliveryRecord]:
        if not events:
            return []
        owners = {owner for e in events if (owner := owner_of(e)) is not None}
        with self.store.transaction() as tx:
            hooks = tx.webhooks.all()
            emails = tx.users.emails_of(owners) if self.email else {}
        planned: list[DeliveryRecord] = []
        for event in events:
            planned += [self._new(WEBHOOK, hook.id, event) for hook in _subscribed(hooks, event)]
            address = emails.get(owner_of(event) or "")
            if address is not None and _emailed(event):
                planned.append(self._new(EMAIL, address, event))
        return planned

    def _new(self, channel: str, target: str, event: Event) -> DeliveryRecord:
        now = self.clock.now()
        return DeliveryRecord(
            id=new_id("dlv"),
            channel=channel,
            target=target,
            event_seq=event.seq or 0,
            event_type=event.type,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )


def _subscribed(hooks: list[WebhookRecord], event: Event) -> list[WebhookRecord]:
    return [h for h in hooks if event.type in h.events and (event.seq or 0) > h.after_seq]


def _emailed(event: Event) -> bool:
    # A deactivation revokes every token of the account: its one user.deactivated mail says
    # so, instead of one mail a token.
    return not (
        event.type == "token.revoked" and event.details.get("reason") == "owner deactivated"
    )
