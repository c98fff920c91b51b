"""Token use cases: create, list, get, revoke, rotate (verifying is
:mod:`tokenward.service.verification`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta

from tokenward.domain import tokens as token_format
from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidInput, NotFound
from tokenward.domain.model import (
    Actor,
    Principal,
    TokenRecord,
    TokenStatus,
    UserRecord,
    check_label,
)
from tokenward.domain.policy import resolve_expiry
from tokenward.domain.scopes import ADMIN_KEY_SCOPES, USER_BUILTIN_SCOPES, is_valid_scope_name
from tokenward.domain.tokens import TokenKind
from tokenward.service import rotation
from tokenward.service.cursors import decode_cursor, encode_cursor
from tokenward.service.minting import CreatedToken, created_details, mint
from tokenward.service.policies import PolicyService
from tokenward.service.usage import LastUseRecorder
from tokenward.store.base import Store, StoreTransaction, TokenQuery

__all__ = [
    "CreatedToken",
    "NewToken",
    "Revocation",
    "Rotation",
    "TokenPage",
    "TokenService",
    "record_revocations",
    "revoke_in",
    "revoke_once",
    "revoke_rows",
]

MAX_PAGE = 200


@dataclasses.dataclass(frozen=True)
class NewToken:
    """What a caller asks for when creating a token."""

    label: str
    scopes: tuple[str, ...] = ()
    expires_in_days: int | None = None
    expires_at: datetime | None = None
    never_expires: bool = False


@dataclasses.dataclass(frozen=True)
class TokenPage:
    items: list[TokenRecord]
    next_cursor: str | None


@dataclasses.dataclass(frozen=True)
class Revocation:
    record: TokenRecord
    effective_by: datetime  # every node refuses the token from this moment on
    seq: int  # the event log position every node must reach to have applied it


@dataclasses.dataclass(frozen=True)
class Rotation:
    """A rotation's outcome: the successor (its secret shown once), the old token as stored,
    and the latest moment the old secret can work (the grace cap, or its expiry if sooner)."""

    created: CreatedToken
    old: TokenRecord
    grace_until: datetime | None


class TokenService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        policies: PolicyService,
        resource_scopes: frozenset[str],
        max_staleness: timedelta,
        usage: LastUseRecorder | None = None,
    ) -> None:
        self.store = store
        self.usage = usage  # this node's uses not yet written, shown in lists at once
        self.clock = clock
        self.policies = policies
        self.resource_scopes = resource_scopes
        self.max_staleness = max_staleness

    def scopes_for(self, kind: TokenKind) -> frozenset[str]:
        """The scopes a token of ``kind`` may carry."""
        if kind is TokenKind.ADMIN:
            return ADMIN_KEY_SCOPES
        return USER_BUILTIN_SCOPES | self.resource_scopes

    def create(
        self,
        owner: UserRecord,
        request: NewToken,
        *,
        by: Actor,
        kind: TokenKind = TokenKind.USER,
        granted_by: Principal | None = None,
    ) -> CreatedToken:
        """Mint a token for ``owner``. When a token asks (``granted_by``), the new token may carry
        only scopes that the asking token holds, so a token cannot widen itself."""
        label = check_label(request.label)
        scopes = self._checked_scopes(kind, request.scopes, granted_by)
        now = self.clock.now()
        expires_at = resolve_expiry(
            self.policies.current().rule_for(kind),
            now,
            expires_in_days=request.expires_in_days,
            expires_at=request.expires_at,
            never_expires=request.never_expires,
        )
        created = mint(kind, owner.id, by, label, scopes, now, expires_at)
        with self.store.transaction() as tx:
            tx.tokens.add(created.record)
            tx.events.append(
                by.event("token.created", now, created.record.id, created_details(created))
            )
        return created

    def rotate(
        self,
        token_id: str,
        *,
        owner_id: str | None,
        by: Actor,
        grace: timedelta,
        granted_by: Principal | None = None,
    ) -> Rotation:
        """Replace a live token of ``owner_id`` (any owner's for ``None``) by a successor with
        the same label, scopes, kind and lifetime length. The old secret keeps working; its
        grace starts at the successor's first use and ends ``grace`` later, at most 7 days
        after now. A revoked, expired or already rotated token is a :class:`Conflict`."""
        _check_id(token_id)
        grace_seconds = rotation.checked_grace(grace)
        now = self.clock.now()
        rule_of = self.policies.current().rule_for
        with self.store.transaction() as tx:
            old = _owned(tx.tokens.by_id(token_id), owner_id)
            rotation.check_rotatable(old, now)
            rotation.check_grantable(old, granted_by)
            expiry = rotation.successor_expiry(rule_of(old.kind), old, now)
            created = mint(old.kind, old.user_id, by, old.label, old.scopes, now, expiry, old.id)
            old = rotation.record_rotation(tx, old, created.record, now, grace_seconds)
            tx.events.append(
                by.event("token.created", now, created.record.id, created_details(created))
            )
            assert old.grace_until is not None  # noqa: S101 - set by record_rotation
            details = rotation.grace_details(old, old.grace_until)
            tx.events.append(by.event("token.rotated", now, old.id, details))
        last = min(filter(None, (old.grace_until, old.expires_at)), default=None)
        return Rotation(created, old, last)

    def _checked_scopes(
        self, kind: TokenKind, requested: tuple[str, ...], granted_by: Principal | None
    ) -> tuple[str, ...]:
        allowed = self.scopes_for(kind)
        if kind is TokenKind.ADMIN and not requested:
            raise InvalidInput("scopes", f"an admin key needs at least one of {sorted(allowed)}")
        for scope in requested:
            if scope not in allowed:
                # Echo the name only if it is a well-formed one: never reflect arbitrary input.
                named = repr(scope) if is_valid_scope_name(scope) else "(malformed name)"
                raise InvalidInput("scopes", f"unknown scope {named}; known: {sorted(allowed)}")
            if granted_by is not None and not granted_by.has_scope(scope):
                raise InvalidInput(
                    "scopes", f"cannot grant {scope!r}: the calling credential does not hold it"
                )
        return tuple(sorted(set(requested)))

    def list(
        self,
        owner_id: str | None,
        *,
        status: TokenStatus | None = None,
        kind: TokenKind | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> TokenPage:
        """Tokens newest first, ``limit`` at a time: one owner's, or everyone's for ``None``."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
        before = None if cursor is None else decode_cursor(cursor)
        query = TokenQuery(owner_id, self.clock.now(), status, before, limit + 1, kind)
        with self.store.transaction() as tx:
            found = tx.tokens.list(query)
        items = [self._with_last_use(record) for record in found[:limit]]
        more = len(found) > limit
        return TokenPage(items, encode_cursor(items[-1]) if more else None)

    def get(self, owner_id: str | None, token_id: str) -> TokenRecord:
        """A token of ``owner_id`` (any owner's for ``None``); someone else's is
        :class:`NotFound`, never forbidden, so ids cannot be probed."""
        _check_id(token_id)
        with self.store.transaction() as tx:
            return self._with_last_use(_owned(tx.tokens.by_id(token_id), owner_id))

    def _with_last_use(self, record: TokenRecord) -> TokenRecord:
        return record if self.usage is None else self.usage.overlay(record)

    def revoke(
        self,
        token_id: str,
        *,
        by: Actor,
        owner_id: str | None,
        reason: str = "owner",
        kind: TokenKind | None = None,
    ) -> Revocation:
        """Revoke a token of ``owner_id`` (any owner's for ``None``, as an admin does).
        Permanent and idempotent: a second call changes nothing and answers as the first."""
        _check_id(token_id)
        now = self.clock.now()
        with self.store.transaction() as tx:
            record = _owned(tx.tokens.by_id(token_id), owner_id)
            if kind is not None and record.kind is not kind:
                raise NotFound("no such token")
            record = revoke_in(tx, record, now, by, reason)
            seq = tx.events.last_seq
        assert record.revoked_at is not None  # noqa: S101 - set by revoke_in or earlier
        # Revoked earlier: its event is somewhere before the log's current end.
        seq = seq or self.store.max_seq()
        return Revocation(record, record.revoked_at + self.max_staleness, seq)

    def revoke_presented(self, presented: str, by: Actor) -> None:
        """Revoke the token whose secret is ``presented`` (RFC 7009: possession suffices).
        Malformed, unknown and already dead tokens change nothing, and the caller cannot tell
        which it was."""
        if token_format.parse(presented) is None:
            return
        found = self.store.principal_by_digest(token_format.digest(presented))
        if found is None:
            return
        with self.store.transaction() as tx:
            record = tx.tokens.by_id(found[0].id)
            if record is not None:
                revoke_in(tx, record, self.clock.now(), by, "rfc7009")


def revoke_in(
    tx: StoreTransaction, record: TokenRecord, now: datetime, by: Actor, reason: str
) -> TokenRecord:
    """Revoke ``record`` inside ``tx`` with its event, and return the token as stored: a token
    revoked already, by an earlier call or by a concurrent one that won, comes back as that
    revocation left it, and no event is written."""
    if record.revoked_at is not None:
        return record
    revoked = revoke_once(tx, record, now, by, reason)
    return revoked or tx.tokens.by_id(record.id) or record


def revoke_once(
    tx: StoreTransaction, record: TokenRecord, now: datetime, by: Actor, reason: str
) -> TokenRecord | None:
    """Revoke ``record`` with one conditional write and, if this call made the change, write
    ``token.revoked`` and return the revoked token; None if it was revoked already."""
    revoked = revoke_rows(tx, [record], now, by, reason)
    record_revocations(tx, revoked, now, by, reason)
    return revoked[0] if revoked else None


def revoke_rows(
    tx: StoreTransaction, records: Iterable[TokenRecord], now: datetime, by: Actor, reason: str
) -> list[TokenRecord]:
    """Revoke each of ``records`` not revoked yet, in id order, and return those this call
    revoked. No event yet: :func:`record_revocations` comes after every other row the
    transaction changes, so the event log's lock is always taken last and two transactions
    cannot each hold what the other waits for (PostgreSQL)."""
    found = (tx.tokens.revoke(r.id, now, by.id, reason) for r in sorted(records, key=_id))
    return [record for record in found if record is not None]


def record_revocations(
    tx: StoreTransaction, revoked: Iterable[TokenRecord], now: datetime, by: Actor, reason: str
) -> None:
    """One ``token.revoked`` for each token :func:`revoke_rows` revoked."""
    for record in revoked:
        details = {
            "token_id": record.id,
            "user_id": record.user_id,
            "digests": [record.digest],
            "reason": reason,
        }
        tx.events.append(by.event("token.revoked", now, record.id, details))


def _id(record: TokenRecord) -> str:
    return record.id


def _check_id(token_id: str) -> None:
    # A string that cannot be an id is not looked up: it is simply not found.
    if not token_format.is_id(token_id, "tok"):
        raise NotFound("no such token")


def _owned(record: TokenRecord | None, owner_id: str | None) -> TokenRecord:
    if record is None or owner_id not in (None, record.user_id):
        raise NotFound("no such token")
    return record
