"""The notifier: on the one node holding the ``notifier`` lease, every tick sends the reminders
due, dispatches new events to deliveries and attempts the deliveries due.

The lease is a row in the database (``leases``), taken or renewed with a conditional write at
each tick and before each delivery, for three ticks' time; a node that stops releases it, one
that dies loses it when it runs out. The lease keeps the work on one node; what must happen
once is also guarded by the data (see :mod:`~tokenward.notify.reminders`,
:mod:`~tokenward.notify.dispatch`, :mod:`~tokenward.notify.deliveries`), so two holders by
mistake (a paused process, clocks apart) still cannot send a reminder twice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from tokenward.domain.addresses import AddressRules
from tokenward.domain.clock import Clock
from tokenward.notify.deliveries import Backoff, Deliverer
from tokenward.notify.dispatch import Dispatcher
from tokenward.notify.email import Mailer, SmtpConfig
from tokenward.notify.reminders import Reminders
from tokenward.notify.webhooks import WebhookSender
from tokenward.service.policies import PolicyService
from tokenward.store.base import Store

__all__ = ["LEASE", "Notifier", "NotifierConfig"]

log = logging.getLogger("tokenward.notify")
LEASE = "notifier"


@dataclasses.dataclass(frozen=True)
class NotifierConfig:
    interval: timedelta = timedelta(seconds=5)
    smtp: SmtpConfig | None = None  # None: no email
    backoff: Backoff = dataclasses.field(default_factory=Backoff)
    webhook_timeout: float = 10.0
    webhook_rules: AddressRules = dataclasses.field(default_factory=AddressRules)


@dataclasses.dataclass(frozen=True)
class TickReport:
    """What one tick did (for tests and logs)."""

    leader: bool
    reminders: int = 0
    planned: int = 0
    delivered: int = 0


class Notifier:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        policies: PolicyService,
        config: NotifierConfig,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policies = policies
        self.config = config
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:96]
        self.reminders = Reminders(store, clock)
        self.dispatcher = Dispatcher(store, clock, email=config.smtp is not None)
        mailer = None if config.smtp is None else Mailer(config.smtp)
        sender = WebhookSender(config.webhook_timeout, config.webhook_rules)
        self.deliverer = Deliverer(store, clock, sender, mailer, config.backoff)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold_lease(self) -> bool:
        """Take or renew the lease for three intervals; True if this node holds it."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            return tx.leases.take(LEASE, self.holder, now, now + 3 * self.config.interval)

    def tick(self) -> TickReport:
        """One round, if this node holds the lease: reminders, dispatch, deliveries."""
        if not self.hold_lease():
            return TickReport(leader=False)
        sent = self.reminders.scan(self.policies.current().reminder_days)
        planned = self.dispatcher.run()
        delivered = self.deliverer.run(self.hold_lease)
        return TickReport(True, sent, planned, delivered)

    def start(self) -> None:
        """Tick every ``interval`` in a background thread (blocking I/O stays off the event
        loop). The first tick waits one interval: a starting node has other work first."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tokenward-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and give up the lease, so another node takes over at once."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        try:
            with self.store.transaction() as tx:
                tx.leases.release(LEASE, self.holder)
        except Exception:  # the lease then simply runs out
            log.warning("could not release the notifier lease", exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval.total_seconds()):
            try:
                self.tick()
            except Exception:  # a bad tick (database down, a bug) must not end the loop
                log.exception("a notifier tick failed; retrying next interval")
