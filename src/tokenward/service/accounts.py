"""Accounts: create users, bootstrap the first admin, deactivate and reactivate."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.errors import Conflict, NotFound
from tokenward.domain.model import (
    Actor,
    TokenRecord,
    TokenStatus,
    UserRecord,
    UserStatus,
    check_email,
    normalise_username,
)
from tokenward.domain.tokens import is_id, new_id
from tokenward.passwords import PasswordHasher, check_password_rules
from tokenward.service.tokens import record_revocations, revoke_rows
from tokenward.store.base import EventQuery, Store, StoreTransaction, TokenQuery

__all__ = [
    "BOOTSTRAP_ADMIN",
    "AccountService",
    "Deactivation",
    "end_all_sessions_of",
    "revoke_all_tokens_of",
]

BOOTSTRAP_ADMIN = "admin"
SYSTEM = Actor("system:bootstrap")
_ALL = 1_000_000  # no account holds more tokens than this; the query needs a bound


@dataclasses.dataclass(frozen=True)
class Deactivation:
    user: UserRecord
    tokens_revoked: int
    sessions_ended: int
    effective_by: datetime
    seq: int  # the event log position every node must reach to have applied it


class AccountService:
    def __init__(
        self, store: Store, clock: Clock, passwords: PasswordHasher, max_staleness: timedelta
    ) -> None:
        self.store = store
        self.clock = clock
        self.passwords = passwords
        self.max_staleness = max_staleness

    def create_user(
        self,
        username: str,
        password: str,
        *,
        is_admin: bool,
        by: Actor,
        email: str | None = None,
    ) -> UserRecord:
        """Create an active user; the name is normalised (see :func:`normalise_username`).
        ``email``, optional, is where notices about its tokens go."""
        name = normalise_username(username)
        email = None if email is None else check_email(email)
        check_password_rules(password)
        with self.store.transaction() as tx:  # before the (slow) hash; add_user checks again
            if tx.users.by_name(name) is not None:
                raise Conflict(f"username {name!r} is taken")
        user = UserRecord(
            id=new_id("usr"),
            username=name,
            password_hash=self.passwords.hash(password),
            is_admin=is_admin,
            status=UserStatus.ACTIVE,
            created_at=self.clock.now(),
            email=email,
        )
        details = {"username": name, "is_admin": is_admin}
        with self.store.transaction() as tx:
            tx.users.add(user)
            tx.events.append(by.event("user.created", user.created_at, user.id, details))
        return user

    def ensure_admin(self, password: str | None) -> str | None:
        """On an empty database, create the org admin ``admin``.

        Uses ``password`` if given; otherwise generates one and returns it so the caller can show
        it once. Returns ``None`` when users already exist (nothing is changed then).
        """
        with self.store.transaction() as tx:
            if tx.users.count():
                return None
        chosen = password or secrets.token_urlsafe(18)
        try:
            self.create_user(BOOTSTRAP_ADMIN, chosen, is_admin=True, by=SYSTEM)
        except Conflict:  # another worker starting at the same moment won the race
            return None
        return None if password else chosen

    def count(self) -> int:
        """How many accounts exist."""
        with self.store.transaction() as tx:
            return tx.users.count()

    def by_name(self, username: str) -> UserRecord:
        with self.store.transaction() as tx:
            user = tx.users.by_name(normalise_username(username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user

    def by_id(self, user_id: str) -> UserRecord:
        _check_id(user_id)
        with self.store.transaction() as tx:
            return _found(tx.users.by_id(user_id))

    def list(self) -> list[tuple[UserRecord, int]]:
        """Every user, by name, with its number of active tokens."""
        with self.store.transaction() as tx:
            return tx.users.list(self.clock.now())

    def deactivate(self, user_id: str, by: Actor) -> Deactivation:
        """Stop an account at once: every token and session of it is revoked in one transaction,
        one event per token plus ``user.deactivated``. The last active admin cannot go."""
        now = self.clock.now()
        _check_id(user_id)  # a malformed id is not found, before any write
        with self.store.transaction() as tx:
            user = _found(tx.users.by_id(user_id))
            if user.status is UserStatus.DEACTIVATED:  # idempotent: nothing left to stop
                return self._deactivated(tx, user, now)
            if user.is_admin and tx.users.count_active_admins() <= 1:
                raise Conflict("the last active admin cannot be deactivated")
            if not tx.users.set_status(user.id, UserStatus.DEACTIVATED):  # a concurrent call won
                return self._deactivated(tx, user, now)
            revoked = revoke_all_tokens_of(tx, user.id, now, by, "owner deactivated")
            ended = end_all_sessions_of(tx, user.id, now)
            record_revocations(tx, revoked, now, by, "owner deactivated")
            details = {
                "username": user.username,
                "tokens_revoked": len(revoked),
                "sessions_ended": len(ended),
                "token_ids": [token.id for token in revoked],
                "session_ids": ended,
            }
            seq = tx.events.append(by.event("user.deactivated", now, user.id, details))
        user = dataclasses.replace(user, status=UserStatus.DEACTIVATED)
        return Deactivation(user, len(revoked), len(ended), now + self.max_staleness, seq)

    def _deactivated(self, tx: StoreTransaction, user: UserRecord, now: datetime) -> Deactivation:
        """The answer to a deactivation that finds the account stopped already: nothing more
        stopped, and the moment and log position of the deactivation that stopped it."""
        query = EventQuery(type="user.deactivated", subject=user.id, newest_first=True, limit=1)
        first = next(iter(tx.events.query(query)), None)
        at, seq = (now, self.store.max_seq()) if first is None else (first.at, first.seq or 0)
        user = dataclasses.replace(user, status=UserStatus.DEACTIVATED)
        return Deactivation(user, 0, 0, at + self.max_staleness, seq)

    def reactivate(self, user_id: str, by: Actor) -> UserRecord:
        """Let the user log in again. Revoked tokens stay revoked."""
        now = self.clock.now()
        _check_id(user_id)
        with self.store.transaction() as tx:
            user = _found(tx.users.by_id(user_id))
            if tx.users.set_status(user.id, UserStatus.ACTIVE):
                details = {"username": user.username}
                tx.events.append(by.event("user.reactivated", now, user.id, details))
        return dataclasses.replace(user, status=UserStatus.ACTIVE)


def revoke_all_tokens_of(
    tx: StoreTransaction, user_id: str, now: datetime, by: Actor, reason: str
) -> list[TokenRecord]:
    """Revoke every active token of a user inside ``tx`` and return those this call revoked,
    oldest id first; their events are the caller's, with :func:`record_revocations` once
    every row is changed."""
    active = tx.tokens.list(TokenQuery(user_id, now, TokenStatus.ACTIVE, limit=_ALL))
    return revoke_rows(tx, active, now, by, reason)


def end_all_sessions_of(tx: StoreTransaction, user_id: str, now: datetime) -> list[str]:
    """End every live session of a user inside ``tx``; returns their ids."""
    live = tx.sessions.live_of(user_id, now)
    return [session.id for session in live if tx.sessions.end(session.id, now)]


def _check_id(user_id: str) -> None:
    # A string that cannot be a user id is not looked up: it is simply not found.
    if not is_id(user_id, "usr"):
        raise NotFound("no such user")


def _found(user: UserRecord | None) -> UserRecord:
    if user is None:
        raise NotFound("no such user")
    return user
