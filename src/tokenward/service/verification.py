"""Verifying presented token secrets: format first, then the fresh cache, then one read.

Split from token management (:mod:`tokenward.service.tokens`): this is the read side every
request goes through, so it holds no more than the cache, the store's one lookup and the rule
that a rotated token's grace starts at its successor's first use.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

from tokenward.domain import tokens as token_format
from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidToken, StoreUnavailable
from tokenward.domain.model import DeadTokenPresented, Principal, TokenRecord, UserStatus
from tokenward.propagation.cache import FreshCache
from tokenward.service import rotation
from tokenward.store.base import Store

__all__ = ["TokenVerifier", "check_expiry"]

log = logging.getLogger("tokenward.service")
_STARTED_CAPACITY = 100_000  # successors known to have started their predecessor's grace


class TokenVerifier:
    """Who a presented secret belongs to, or :class:`InvalidToken`."""

    def __init__(self, store: Store, clock: Clock, cache: FreshCache) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache
        self._grace_started: set[str] = set()

    def verify(self, presented: str) -> Principal:
        """The principal behind a presented secret, or :class:`InvalidToken`.

        Format first (no lookup for a typo), then the fresh cache, then one read by digest;
        status and expiry are checked on every call, cached or not.
        """
        checked = self.verify_cached(presented)
        if isinstance(checked, Principal):
            return checked
        return self.verify_digest(checked)

    def verify_cached(self, presented: str) -> Principal | str:
        """The principal if the fresh cache has it, else the digest to look up with
        :meth:`verify_digest`. No I/O, so it may run on the event loop. Raises
        :class:`InvalidToken` for a malformed token or an expired cached one."""
        if token_format.parse(presented) is None:
            raise InvalidToken()
        digest = token_format.digest(presented)
        principal = self.cache.get(digest)
        if principal is None:
            return digest
        check_expiry(principal, self.clock.now())
        return principal

    def cached(self, digest: str) -> Principal | None:
        """The fresh cache's principal for ``digest``, expiry checked; ``None`` on a miss,
        which is not counted: :meth:`verify_cached` follows and counts it.

        Only a stored token's digest is ever cached, so a hit proves the presented value is
        that token, well-formed: the format check may wait for a miss (the hot path's saving).
        """
        principal = self.cache.get(digest, count_miss=False)
        if principal is not None:
            check_expiry(principal, self.clock.now())
        return principal

    def verify_digest(self, digest: str) -> Principal:
        """The store's answer for a well-formed token's digest; fills the cache."""
        generation = self.cache.generation  # before the read: see FreshCache.fill
        found = self.store.principal_by_digest(digest)
        if found is None or not hmac.compare_digest(found[0].digest, digest):
            raise InvalidToken()
        token, user = found
        if token.revoked_at is not None:
            # The caller holds the real secret: it may know why (and the owner is told).
            raise DeadTokenPresented("revoked", token)
        if user.status is not UserStatus.ACTIVE:
            raise InvalidToken("owner deactivated")
        principal = Principal(user, token=token)
        check_expiry(principal, self.clock.now())
        if token.rotated_from is None or self._started_grace(token):
            # Keyed by the record's own digest (equal, checked above): one string, not two.
            # Hits return this same object while it stays among the most recently used: what
            # the hot path renders for it now is what it renders on every hit.
            self.cache.fill(token.digest, principal, generation)
        return principal

    def _started_grace(self, successor: TokenRecord) -> bool:
        """Start the predecessor's grace at the successor's first use, through the store as an
        event that every node applies (within the bound). True once it is known started; a
        failed write is retried at the next use (the successor is not cached until then)."""
        if successor.id in self._grace_started:
            return True
        try:
            with self.store.transaction() as tx:
                event = rotation.start_grace_in(tx, successor, self.clock.now())
                if event is not None:
                    tx.events.append(event)
        except StoreUnavailable:
            log.warning("could not start the grace of the token rotated to %s", successor.id)
            return False
        if len(self._grace_started) >= _STARTED_CAPACITY:
            self._grace_started.clear()  # a forgotten id costs one more no-op transaction
        self._grace_started.add(successor.id)
        return True


def check_expiry(principal: Principal, now: datetime) -> None:
    """Expiry, and the end of a rotated token's grace: checked on every use, cached or not."""
    token = principal.token
    if token is None:
        return
    if token.expires_at is not None and token.expires_at <= now:
        raise DeadTokenPresented("expired", token)
    if token.grace_until is not None and token.grace_until <= now:
        raise DeadTokenPresented("rotated", token)
