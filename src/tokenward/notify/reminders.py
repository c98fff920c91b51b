"""Expiry reminders: one ``token.expiring`` a threshold and one ``token.expired`` a token.

For each threshold (the policy's ``reminder_days``, then expiry itself), a token is *due* while
that threshold is the latest one it has crossed. So a scheduler that was down across several
thresholds sends only the nearest, never a burst. A threshold the token was already inside when
it was created is skipped (its creator just chose that expiry): a 5-day token gets the 1-day
reminder and the expiry notice, a 30-day token no "30 days left" on the day it is made.
Every decision, sent or skipped, is a ``reminders_sent`` row, whose key makes a second sending
impossible. Expiry notices reach back at most ``LOOKBACK`` (a first start on an old database
does not announce every token that expired years ago).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.model import Event, TokenRecord
from tokenward.notify.events import EXPIRED, EXPIRING, NOTIFIER
from tokenward.store.base import Store

__all__ = ["LOOKBACK", "Reminders", "marks"]

LOOKBACK = timedelta(days=7)
_BATCH = 500
_MAX_BATCHES = 100  # a bound on one scan; the next tick goes on


def marks(reminder_days: tuple[int, ...]) -> list[tuple[str, int]]:
    """``(mark, days before expiry)`` from the farthest threshold to expiry (0 days)."""
    days = sorted(set(reminder_days), reverse=True)
    return [(f"{d}d", d) for d in days] + [("expired", 0)]


class Reminders:
    """Finds the tokens whose nearest crossed threshold has no reminder yet, and sends it."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def scan(self, reminder_days: tuple[int, ...]) -> int:
        """Send every reminder due now; returns how many were sent."""
        now = self.clock.now()
        steps = marks(reminder_days)
        sent = 0
        for index, (mark, days) in enumerate(steps):
            if days == 0:
                window = (now - LOOKBACK, now)
            else:  # due from this threshold until the next one, nearer to expiry
                window = (now + timedelta(days=steps[index + 1][1]), now + timedelta(days=days))
            sent += self._send_due(mark, days, window, now)
        return sent

    def _send_due(
        self, mark: str, days: int, window: tuple[datetime, datetime], now: datetime
    ) -> int:
        sent = 0
        for _ in range(_MAX_BATCHES):
            with self.store.transaction() as tx:
                batch = tx.reminders.candidates(mark, *window, limit=_BATCH)
            for token in batch:
                sent += self._one(token, mark, days, now)
            if len(batch) < _BATCH:
                break
        return sent

    def _one(self, token: TokenRecord, mark: str, days: int, now: datetime) -> int:
        assert token.expires_at is not None  # noqa: S101 - only expiring tokens are candidates
        if token.expires_at - timedelta(days=days) <= token.created_at:
            self.send(token.id, mark, now, None)  # made inside it: skipped
            return 0
        return int(self.send(token.id, mark, now, _event(token, days, now)))

    def send(self, token_id: str, mark: str, at: datetime, event: Event | None) -> bool:
        """Record reminder ``mark`` and append ``event`` in one transaction (``None``: record
        it as skipped); False (nothing written) if that reminder was already recorded."""
        with self.store.transaction() as tx:
            if not tx.reminders.claim(token_id, mark, at):
                return False
            if event is not None:
                tx.reminders.link(token_id, mark, tx.events.append(event))
        return True


def _event(token: TokenRecord, days: int, now: datetime) -> Event:
    assert token.expires_at is not None  # noqa: S101 - checked by the caller
    details: dict[str, object] = {
        "token_id": token.id,
        "user_id": token.user_id,
        "label": token.label,
        "kind": token.kind.value,
        "expires_at": token.expires_at.isoformat(),
    }
    if days:
        return NOTIFIER.event(EXPIRING, now, token.id, details | {"days": days})
    return NOTIFIER.event(EXPIRED, now, token.id, details)
