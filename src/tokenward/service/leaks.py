"""Leak reports: anyone may send strings found in public; every valid token among them dies.

The answer never says whether anything was valid: the caller gets the number of strings
received, and the work is the same shape either way (a format check, one digest lookup per
well-formed string, one transaction that at least records the report). Revocation goes through
the usual path, so every node refuses the token within the bound (P1), and ``token.leaked``
tells the owner where it was found.

``source`` is free text from a stranger, and people paste what they found: every token-shaped
string in it is treated as if it had been listed (revoked if valid, its owner notified), and
``source`` is stored, audited and sent on only with its secrets redacted (see
:mod:`tokenward.domain.redaction`), never as sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenward.domain import tokens as token_format
from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import Actor, TokenRecord, TokenStatus
from tokenward.domain.redaction import redact, token_shaped
from tokenward.service.tokens import revoke_once
from tokenward.store.base import Store, StoreTransaction

__all__ = ["MAX_LEAKED_TOKENS", "MAX_SOURCE", "LeakService"]

MAX_LEAKED_TOKENS = 100
MAX_SOURCE = 2000


class LeakService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def report(self, presented: Sequence[str], source: str, by: Actor) -> int:
        """Revoke every valid token among ``presented`` (reason ``leaked``); return how many
        strings were received, whatever they were."""
        _check(presented, source)
        candidates = dict.fromkeys([*presented, *token_shaped(source)])
        found = [self._stored(value) for value in candidates]
        source = redact(source)
        now = self.clock.now()
        with self.store.transaction() as tx:
            revoked = sum(self._revoke(tx, record, source, by) for record in found if record)
            details = {"received": len(presented), "revoked": revoked, "source": source}
            tx.events.append(by.event("leak.reported", now, "leaks", details))
        return len(presented)

    def _stored(self, value: str) -> TokenRecord | None:
        """The stored token whose secret is ``value``; a malformed one is never looked up."""
        if token_format.parse(value) is None:
            return None
        found = self.store.principal_by_digest(token_format.digest(value))
        return None if found is None else found[0]

    def _revoke(self, tx: StoreTransaction, record: TokenRecord, source: str, by: Actor) -> int:
        now = self.clock.now()
        current = tx.tokens.by_id(record.id)
        if current is None or current.status(now) is not TokenStatus.ACTIVE:
            return 0
        if revoke_once(tx, current, now, by, "leaked") is None:
            return 0  # a concurrent report (or revocation) won: it wrote the events
        details = {"token_id": current.id, "user_id": current.user_id, "source": source}
        tx.events.append(by.event("token.leaked", now, current.id, details))
        return 1


def _check(presented: Sequence[str], source: str) -> None:
    if len(presented) > MAX_LEAKED_TOKENS:
        raise InvalidInput("tokens", f"at most {MAX_LEAKED_TOKENS} in one report")
    if not source.strip() or len(source) > MAX_SOURCE:
        raise InvalidInput("source", f"must be 1-{MAX_SOURCE} characters")
