"""Alarms about dead secrets still in use, so owners hear of them before anything breaks.

- An expired or revoked token presented again: counted in memory (how often, when last, from
  where), added to its tombstone row and reported as ``token.dead_use`` at most once a day a
  token, whichever node saw it.
- An old secret presented after its rotation grace: ``token.reuse_detected``, at most once a
  minute a token (an attacker replaying it cannot flood the log); if the policy says so, the
  whole rotation family is revoked.

Counting happens on the request's failure path (a short lock, no I/O); every write is made by
:meth:`TokenAlarms.flush_reuse` and :meth:`TokenAlarms.flush_dead_uses`, off the request path.
Unknown token values never get here: there is nothing to tell anyone, and no oracle.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.model import Actor, DeadTokenPresented, TokenRecord
from tokenward.service.policies import PolicyService
from tokenward.service.rotation import family_of
from tokenward.service.tokens import record_revocations, revoke_rows
from tokenward.store.base import Store, StoreTransaction

__all__ = ["DEAD_USE_EVERY", "REUSE_EVERY", "TokenAlarms"]

DEAD_USE_EVERY = timedelta(days=1)
REUSE_EVERY = timedelta(minutes=1)
_CAPACITY = 10_000  # tokens counted between flushes; more are dropped until the next flush
SYSTEM = "tokenward"  # the actor of events the service writes on its own


@dataclasses.dataclass
class _Seen:
    token: TokenRecord
    reason: str
    count: int
    last_at: datetime
    ip: str | None


class TokenAlarms:
    """Counts dead-token presentations in memory and reports them, rate-limited, as events."""

    def __init__(self, store: Store, clock: Clock, policies: PolicyService) -> None:
        self.store = store
        self.clock = clock
        self.policies = policies
        self._dead: dict[str, _Seen] = {}
        self._reused: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self.wake: threading.Event | None = None  # set by a flusher to hear of reuse at once

    def presented(self, error: DeadTokenPresented, client: tuple[str, int] | None) -> None:
        """A request presented a dead token's real secret (the failure path of a request)."""
        rotated = error.dead_because == "rotated"
        pending = self._reused if rotated else self._dead
        ip = None if client is None else client[0]
        now = self.clock.now()
        with self._lock:
            seen = pending.get(error.token.id)
            if seen is not None:
                seen.count, seen.last_at, seen.ip = seen.count + 1, now, ip
            elif len(pending) < _CAPACITY:
                pending[error.token.id] = _Seen(error.token, error.dead_because, 1, now, ip)
        if rotated and self.wake is not None:
            self.wake.set()

    def flush_reuse(self) -> int:
        """Report old secrets used after their grace; return how many events were written."""
        if not self._reused and not self._flushing.locked():
            return 0  # the common case, every tick: no store access at all
        # Read before any transaction opens: one at a time on SQLite.
        revoke_family = self.policies.current().revoke_family_on_reuse
        return self._flush(
            self._reused, lambda tx, seen: self._report_reuse(tx, seen, revoke_family)
        )

    def flush_dead_uses(self) -> int:
        """Add the counted dead uses to the tombstones; report those not reported for a day.
        Return how many events were written."""
        return self._flush(self._dead, self._report_dead_use)

    def _flush(
        self, pending: dict[str, _Seen], report: Callable[[StoreTransaction, _Seen], int]
    ) -> int:
        # One flush at a time: when a flush returns, all counted before it is written.
        with self._flushing:
            with self._lock:
                taken = list(pending.values())
                pending.clear()
            written = 0
            for index, seen in enumerate(taken):
                try:
                    with self.store.transaction() as tx:
                        written += report(tx, seen)
                except StoreUnavailable:
                    self._requeue(pending, taken[index:])  # counted again at the next flush
                    raise
            return written

    def _requeue(self, pending: dict[str, _Seen], unreported: list[_Seen]) -> None:
        with self._lock:
            for seen in unreported:
                newer = pending.get(seen.token.id)
                if newer is not None:
                    seen.count, seen.last_at, seen.ip = (
                        seen.count + newer.count,
                        newer.last_at,
                        newer.ip,
                    )
                pending[seen.token.id] = seen

    def _report_reuse(self, tx: StoreTransaction, seen: _Seen, revoke_family: bool) -> int:
        now = self.clock.now()
        if not tx.tokens.claim_alarm(seen.token.id, "reuse", now, REUSE_EVERY):
            return 0
        details = {**_details(seen), "rotated_to": seen.token.rotated_to}
        by, reason = Actor(SYSTEM, seen.ip), "reuse_detected"
        family = family_of(tx, seen.token) if revoke_family else []
        revoked = revoke_rows(tx, family, now, by, reason)  # every row before the first event
        tx.events.append(by.event("token.reuse_detected", now, seen.token.id, details))
        record_revocations(tx, revoked, now, by, reason)
        return 1

    def _report_dead_use(self, tx: StoreTransaction, seen: _Seen) -> int:
        now = self.clock.now()
        total = tx.tokens.add_dead_uses(seen.token.id, seen.count, seen.last_at, seen.ip)
        if not tx.tokens.claim_alarm(seen.token.id, "dead_use", now, DEAD_USE_EVERY):
            return 0
        details = {**_details(seen), "count": total}
        tx.events.append(
            Actor(SYSTEM, seen.ip).event("token.dead_use", now, seen.token.id, details)
        )
        return 1


def _details(seen: _Seen) -> dict[str, object]:
    return {
        "token_id": seen.token.id,
        "user_id": seen.token.user_id,
        "reason": seen.reason,
        "count": seen.count,
        "last_at": seen.last_at.isoformat(),
        "ip": seen.ip,
    }
