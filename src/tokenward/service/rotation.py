"""The rules of rotation with grace, apart from the use case that applies them.

A rotation mints a successor (same owner, kind, label, scopes and lifetime length) and keeps the
old secret working. Its grace starts when the successor is first used, so a response lost on
the way never strands an integration; it ends ``grace_seconds`` later, and never later than
:data:`MAX_GRACE` after the rotation. Expiry still applies during the grace.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tokenward.domain.errors import Conflict, InsufficientScope, InvalidInput
from tokenward.domain.model import Actor, Event, Principal, TokenRecord, TokenStatus
from tokenward.domain.policy import LifetimeRule
from tokenward.store.base import Rotated, StoreTransaction

__all__ = [
    "MAX_FAMILY",
    "MAX_GRACE",
    "check_grantable",
    "check_rotatable",
    "checked_grace",
    "family_of",
    "grace_details",
    "record_rotation",
    "start_grace_in",
    "successor_expiry",
]

MAX_GRACE = timedelta(days=7)
MAX_FAMILY = 1000  # a rotation chain longer than this is not followed further


def checked_grace(grace: timedelta) -> int:
    """The grace in whole seconds, or :class:`InvalidInput` naming ``grace_seconds``."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        limit = int(MAX_GRACE.total_seconds())
        raise InvalidInput("grace_seconds", f"must be between 0 and {limit} (7 days)")
    return int(grace.total_seconds())


def check_rotatable(record: TokenRecord, now: datetime) -> None:
    """Only a live token that was not rotated before can be rotated (409 otherwise)."""
    if record.revoked_at is not None:
        raise Conflict("the token is revoked; create a new one instead")
    if record.rotated_to is not None:
        raise Conflict(f"the token was already rotated: the newer token is {record.rotated_to}")
    if record.status(now) is not TokenStatus.ACTIVE:
        raise Conflict("the token has expired; create a new one instead")


def check_grantable(record: TokenRecord, granted_by: Principal | None) -> None:
    """A credential may mint a successor only with scopes it holds itself, as for a create."""
    if granted_by is None:
        return
    for scope in record.scopes:
        if not granted_by.has_scope(scope):
            raise InsufficientScope(scope)


def successor_expiry(rule: LifetimeRule, old: TokenRecord, now: datetime) -> datetime | None:
    """The old token's lifetime length from ``now``, within what the policy allows today."""
    if old.expires_at is None:
        return None if rule.allow_no_expiry else now + timedelta(days=rule.default_days)
    length = old.expires_at - old.created_at
    return now + min(length, timedelta(days=rule.max_days))


def grace_details(old: TokenRecord, grace_until: datetime) -> dict[str, object]:
    """Details of ``token.rotated`` and ``token.grace_started``. The old digest makes every
    cache drop the old token, so that each node reads its new deadline (P1's bound)."""
    return {
        "token_id": old.id,
        "user_id": old.user_id,
        "rotated_to": old.rotated_to,
        "grace_seconds": old.grace_seconds,
        "grace_until": grace_until.isoformat(),
        "digests": [old.digest],
    }


def family_of(tx: StoreTransaction, record: TokenRecord) -> list[TokenRecord]:
    """Every token linked to ``record`` by rotations, both ways, ``record`` included."""
    found = {record.id: record}
    pending = [record]
    while pending and len(found) < MAX_FAMILY:
        current = pending.pop()
        for linked in (current.rotated_from, current.rotated_to):
            if linked is None or linked in found:
                continue
            other = tx.tokens.by_id(linked)
            if other is not None:
                found[other.id] = other
                pending.append(other)
    return list(found.values())


def record_rotation(
    tx: StoreTransaction, old: TokenRecord, new: TokenRecord, now: datetime, grace_seconds: int
) -> TokenRecord:
    """Store ``new`` as the successor of ``old`` inside ``tx``; return the old token as stored.
    A rotation that lost a race with another rotation or a revocation is a :class:`Conflict`."""
    if not tx.tokens.mark_rotated(old.id, Rotated(new.id, now, grace_seconds, now + MAX_GRACE)):
        raise Conflict("the token was rotated or revoked meanwhile")
    tx.tokens.add(new)
    stored = tx.tokens.by_id(old.id)
    assert stored is not None and stored.grace_until is not None  # noqa: S101 - just written
    return stored


def start_grace_in(tx: StoreTransaction, successor: TokenRecord, now: datetime) -> Event | None:
    """The successor is being used: start its predecessor's grace, once, and return the event
    to append (``None`` if the grace had started already, or there is nothing to start)."""
    old = None if successor.rotated_from is None else tx.tokens.by_id(successor.rotated_from)
    if old is None or old.rotated_to != successor.id or old.grace_started_at is not None:
        return None
    assert old.grace_until is not None  # noqa: S101 - set by every rotation (the cap)
    until = min(now + timedelta(seconds=old.grace_seconds or 0), old.grace_until)
    if not tx.tokens.start_grace(old.id, now, until):
        return None
    actor = Actor(successor.id)  # the first use of the successor is what starts it
    return actor.event("token.grace_started", now, old.id, grace_details(old, until))
