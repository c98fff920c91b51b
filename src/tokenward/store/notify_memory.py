"""The notifier's storage in memory, beside a :class:`MemoryStore`: for unit tests and
``tokenward.testing``. Same guarantees as SQL, by one lock instead of keys and transactions."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime

from tokenward.domain.errors import Conflict
from tokenward.domain.model import Event, TokenRecord
from tokenward.store.memory import MemoryStore
from tokenward.store.notify_base import DeliveryRecord, DeliveryUpdate, WebhookRecord

__all__ = ["MemoryNotifyStore"]


class MemoryNotifyStore:
    """A :class:`~tokenward.store.notify_base.NotifyStore` in dicts; tokens, users and the
    event log are ``store``'s."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._sent: dict[tuple[str, str], int] = {}
        self._cursor = 0
        self._webhooks: dict[str, WebhookRecord] = {}
        self._deliveries: dict[str, DeliveryRecord] = {}

    def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] != holder and current[1] > now:
                return False
            self._leases[name] = (holder, until)
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._lock:
            if self._leases.get(name, ("", None))[0] == holder:
                del self._leases[name]

    def reminder_candidates(
        self, mark: str, expiring_after: datetime, expiring_by: datetime, limit: int
    ) -> list[TokenRecord]:
        with self.store.transaction() as tx:
            every = list(tx.state.tokens.values())
        with self._lock:
            found = [
                t
                for t in every
                if t.revoked_at is None
                and t.expires_at is not None
                and expiring_after < t.expires_at <= expiring_by
                and (t.id, mark) not in self._sent
            ]
        found.sort(key=lambda t: (t.expires_at, t.id))
        return found[:limit]

    def send_reminder(self, token_id: str, mark: str, at: datetime, event: Event | None) -> bool:
        with self._lock:
            if (token_id, mark) in self._sent:
                return False
            seq = 0
            if event is not None:
                with self.store.transaction() as tx:
                    seq = tx.append_event(event)
            self._sent[(token_id, mark)] = seq
            return True

    def dispatch_cursor(self) -> int:
        return self._cursor

    def advance_dispatch(self, old: int, new: int, planned: list[DeliveryRecord]) -> bool:
        with self._lock:
            taken = {(d.channel, d.target, d.event_seq) for d in self._deliveries.values()}
            if self._cursor != old or any(
                (d.channel, d.target, d.event_seq) in taken for d in planned
            ):
                return False
            self._cursor = new
            self._deliveries.update((d.id, d) for d in planned)
            return True

    def due_deliveries(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        with self._lock:
            due = [
                d
                for d in self._deliveries.values()
                if d.status == "pending"
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
            ]
        due.sort(key=lambda d: (d.next_attempt_at, d.event_seq, d.id))
        return due[:limit]

    def update_delivery(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        with self._lock:
            stored = self._deliveries.get(delivery.id)
            if stored is None or _state(stored) != _state(delivery):
                return False
            self._deliveries[delivery.id] = dataclasses.replace(
                stored, **dataclasses.asdict(update)
            )
            return True

    def add_webhook(self, webhook: WebhookRecord, event: Event) -> None:
        with self._lock, self.store.transaction() as tx:
            if webhook.id in self._webhooks:  # as SQL's primary key refuses it
                raise Conflict("the change clashes with stored data")
            tx.append_event(event)
            self._webhooks[webhook.id] = webhook

    def webhooks(self) -> list[WebhookRecord]:
        return sorted(self._webhooks.values(), key=lambda w: (w.created_at, w.id))

    def webhook_by_id(self, webhook_id: str) -> WebhookRecord | None:
        return self._webhooks.get(webhook_id)

    def delete_webhook(self, webhook_id: str, event: Event) -> bool:
        with self._lock:
            if self._webhooks.pop(webhook_id, None) is None:
                return False
            self._deliveries = {k: d for k, d in self._deliveries.items() if d.target != webhook_id}
            with self.store.transaction() as tx:
                tx.append_event(event)
            return True

    def deliveries_of(self, target: str, limit: int) -> list[DeliveryRecord]:
        with self._lock:
            mine = [d for d in self._deliveries.values() if d.target == target]
        mine.sort(key=lambda d: (-d.event_seq, d.id))
        return mine[:limit]

    def emails_of(self, user_ids: set[str]) -> dict[str, str]:
        with self.store.transaction() as tx:
            users = [tx.state.users.get(user_id) for user_id in user_ids]
        return {u.id: u.email for u in users if u is not None and u.email is not None}


def _state(delivery: DeliveryRecord) -> tuple[object, ...]:
    """What a compare-and-set compares: as the SQL ``WHERE`` does."""
    return (delivery.status, delivery.attempts, delivery.next_attempt_at)
