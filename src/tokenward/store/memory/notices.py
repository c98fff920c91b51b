"""The notifier's aggregates in memory: same guarantees as SQL, by the store's one lock."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from tokenward.domain.errors import Conflict
from tokenward.domain.model import TokenRecord
from tokenward.store.memory.state import State
from tokenward.store.records import DeliveryRecord, DeliveryUpdate, WebhookRecord

__all__ = ["MemoryDeliveries", "MemoryLeases", "MemoryReminders", "MemoryWebhooks"]


class MemoryWebhooks:
    """A :class:`~tokenward.store.repositories.WebhookRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, webhook: WebhookRecord) -> None:
        if webhook.id in self.state.webhooks:  # as SQL's primary key refuses it
            raise Conflict("the change clashes with stored data")
        self.state.webhooks[webhook.id] = webhook

    def all(self) -> list[WebhookRecord]:
        return sorted(self.state.webhooks.values(), key=lambda w: (w.created_at, w.id))

    def by_id(self, webhook_id: str) -> WebhookRecord | None:
        return self.state.webhooks.get(webhook_id)

    def delete(self, webhook_id: str) -> bool:
        if self.state.webhooks.pop(webhook_id, None) is None:
            return False
        kept = {k: d for k, d in self.state.deliveries.items() if d.target != webhook_id}
        self.state.deliveries = kept
        return True


class MemoryDeliveries:
    """A :class:`~tokenward.store.repositories.DeliveryRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def cursor(self) -> int:
        return self.state.cursor

    def advance(self, old: int, new: int) -> bool:
        if self.state.cursor != old:
            return False
        self.state.cursor = new
        return True

    def plan(self, planned: Sequence[DeliveryRecord]) -> None:
        taken = {_key(d) for d in self.state.deliveries.values()}
        if any(_key(d) in taken for d in planned):  # as SQL's unique constraint refuses it
            raise Conflict("the change clashes with stored data")
        self.state.deliveries.update((d.id, d) for d in planned)

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        due = [
            d
            for d in self.state.deliveries.values()
            if d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        due.sort(key=lambda d: (d.next_attempt_at, d.event_seq, d.id))
        return due[:limit]

    def update(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        stored = self.state.deliveries.get(delivery.id)
        if stored is None or _compared(stored) != _compared(delivery):
            return False
        changed = dataclasses.replace(stored, **dataclasses.asdict(update))
        self.state.deliveries[delivery.id] = changed
        return True

    def of_target(self, target: str, limit: int) -> list[DeliveryRecord]:
        mine = [d for d in self.state.deliveries.values() if d.target == target]
        mine.sort(key=lambda d: (-d.event_seq, d.id))
        return mine[:limit]


def _key(delivery: DeliveryRecord) -> tuple[str, str, int]:
    return (delivery.channel, delivery.target, delivery.event_seq)


def _compared(delivery: DeliveryRecord) -> tuple[object, ...]:
    """What a compare-and-set compares: as the SQL ``WHERE`` does."""
    return (delivery.status, delivery.attempts, delivery.next_attempt_at)


class MemoryReminders:
    """A :class:`~tokenward.store.repositories.ReminderRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def candidates(
        self, mark: str, expiring_after: datetime, expiring_by: datetime, limit: int
    ) -> list[TokenRecord]:
        found = [
            t
            for t in self.state.tokens.values()
            if t.revoked_at is None
            and t.expires_at is not None
            and expiring_after < t.expires_at <= expiring_by
            and (t.id, mark) not in self.state.reminders
        ]
        found.sort(key=lambda t: (t.expires_at, t.id))
        return found[:limit]

    def claim(self, token_id: str, mark: str, at: datetime) -> bool:
        if (token_id, mark) in self.state.reminders:
            return False
        self.state.reminders[(token_id, mark)] = 0
        return True

    def link(self, token_id: str, mark: str, seq: int) -> None:
        self.state.reminders[(token_id, mark)] = seq


class MemoryLeases:
    """A :class:`~tokenward.store.repositories.LeaseRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        current = self.state.leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self.state.leases[name] = (holder, until)
        return True

    def release(self, name: str, holder: str) -> None:
        if name in self.state.leases and self.state.leases[name][0] == holder:
            del self.state.leases[name]
