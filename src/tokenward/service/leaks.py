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
from tokenward.service.tokens import record_revocations, revoke_rows
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
            revoked = self._revoke(tx, [record for record in found if record], source, by)
            details = {"received": len(presented), "revoked": revoked, "source": source}
            tx.events.append(by.event("leak.reported", now, "leaks", details))
        return len(presented)

    def _stored(self, value: str) -> TokenRecord | None:
        """The stored token whose secret is ``value``; a malformed one is never looked up."""
        if token_format.parse(value) is None:
            return None
        found = self.store.principal_by_digest(token_format.digest(value))
        return None if found is None else found[0]

    def _revoke(
        self, tx: StoreTransaction, found: list[TokenRecord], source: str, by: Actor
    ) -> int:
        """Revoke the live ones among ``found``: only those this report revoked get their
        events (a concurrent report, or revocation, that won wrote its own)."""
        now = self.clock.now()
        current = tx.tokens.by_ids([record.id for record in found])
        live = [token for token in current if token.status(now) is TokenStatus.ACTIVE]
        revoked = revoke_rows(tx, live, now, by, "leaked")
        record_revocations(tx, revoked, now, by, "leaked")
        for token in revoked:
            details = {"token_id": token.id, "user_id": token.user_id, "source": source}
            tx.events.append(by.event("token.leaked", now, token.id, details))
        return len(revoked)


def _check(presented: Sequence[str], source: str) -> None:
    if len(presented) > MAX_LEAKED_TOKENS:
        raise InvalidInput("tokens", f"at most {MAX_LEAKED_TOKENS} in one report")
    if not source.strip() or len(source) > MAX_SOURCE:
        raise InvalidInput("source", f"must be 1-{MAX_SOURCE} characters")
