"""Attempt the deliveries that are due, and schedule retries in the database.

A delivery is claimed before it is sent (a compare-and-set pushing ``next_attempt_at`` past the
send), so two senders by mistake cannot both send it, and one that dies mid-send leaves it to
be retried once the claim runs out. Failures back off exponentially with full jitter
(``uniform(0, min(cap, base * 2**(attempts-1)))``): receivers that came back are not hit by
every sender at once. After ``max_attempts`` a delivery is ``failed``.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.model import Event
from tokenward.notify.dispatch import EMAIL, WEBHOOK
from tokenward.notify.email import Mailer, render
from tokenward.notify.webhooks import Attempt, WebhookSender
from tokenward.store.base import DeliveryRecord, DeliveryUpdate, Store

__all__ = ["Backoff", "Deliverer"]

log = logging.getLogger("tokenward.notify")
_BATCH = 100
_CLAIM = timedelta(minutes=2)  # longer than any one send (timeouts are 10 s)


@dataclasses.dataclass(frozen=True)
class Backoff:
    base: float = 1.0  # seconds before the first retry, at most
    cap: float = 3600.0
    max_attempts: int = 8

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Full jitter after ``attempts`` failed attempts."""
        ceiling = min(self.cap, self.base * 2 ** (attempts - 1))
        return timedelta(seconds=rng.uniform(0, ceiling))


class Deliverer:
    """Sends due webhook and email deliveries, one at a time, while the lease is held."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        webhooks: WebhookSender,
        mailer: Mailer | None,
        backoff: Backoff,
    ) -> None:
        self.store = store
        self.clock = clock
        self.webhooks = webhooks
        self.mailer = mailer
        self.backoff = backoff
        self.rng: random.Random = secrets.SystemRandom()

    def run(self, holding: Callable[[], bool]) -> int:
        """Attempt every due delivery while ``holding()`` (the lease) stays true; returns
        how many were delivered."""
        delivered = 0
        with self.store.transaction() as tx:
            due = tx.deliveries.due(self.clock.now(), _BATCH)
        for delivery in due:
            if not holding():
                break
            delivered += self._attempt(delivery)
        return delivered

    def _attempt(self, delivery: DeliveryRecord) -> int:
        now = self.clock.now()
        claimed = dataclasses.replace(delivery, next_attempt_at=now + _CLAIM)
        if not self._update(delivery, _keep(claimed)):
            return 0  # someone else has it
        try:
            attempt = self._send(delivery, now)
        except Exception as error:  # a bug or an odd URL counts as a failed attempt, and
            # only its class is kept: the message may quote the URL, which may hold a token.
            log.warning("delivery %s failed with %s", delivery.id, type(error).__name__)
            attempt = Attempt(False, None, type(error).__name__)
        attempts = delivery.attempts + 1
        if attempt.ok:
            update = DeliveryUpdate("delivered", attempts, None, attempt.code, None, now)
        elif attempts >= self.backoff.max_attempts or attempt.error == _GONE:
            update = DeliveryUpdate("failed", attempts, None, attempt.code, attempt.error, None)
        else:
            retry = now + self.backoff.delay(attempts, self.rng)
            update = DeliveryUpdate("pending", attempts, retry, attempt.code, attempt.error, None)
        self._update(claimed, update)
        return int(attempt.ok)

    def _update(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        with self.store.transaction() as tx:
            return tx.deliveries.update(delivery, update)

    def _send(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        event = self._event(delivery.event_seq)
        if event is None:
            return Attempt(False, None, _GONE)
        if delivery.channel == WEBHOOK:
            with self.store.transaction() as tx:
                webhook = tx.webhooks.by_id(delivery.target)
            if webhook is None:
                return Attempt(False, None, _GONE)
            return self.webhooks.send(webhook, delivery.id, event, now)
        if delivery.channel == EMAIL and self.mailer is not None:
            return self._mail(delivery, event)
        return Attempt(False, None, "email is not configured")

    def _mail(self, delivery: DeliveryRecord, event: Event) -> Attempt:
        assert self.mailer is not None  # noqa: S101 - checked by the caller
        with self.store.transaction() as tx:
            owner = tx.users.by_id(event.details.get("user_id") or event.subject)
            token = tx.tokens.by_id(event.subject) if event.type.startswith("token.") else None
        if owner is None:
            return Attempt(False, None, _GONE)
        owner = dataclasses.replace(owner, email=delivery.target)  # the address it was for
        return self.mailer.send(render(event, owner, token, self.mailer.config.sender))

    def _event(self, seq: int) -> Event | None:
        found = self.store.events_after(seq - 1, limit=1)
        return found[0] if found and found[0].seq == seq else None


_GONE = "gone"  # the endpoint, event or user no longer exists: retrying cannot help


def _keep(record: DeliveryRecord) -> DeliveryUpdate:
    return DeliveryUpdate(
        record.status,
        record.attempts,
        record.next_attempt_at,
        record.last_code,
        record.last_error,
        record.delivered_at,
    )
