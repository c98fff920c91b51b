"""Passwords: a person changes their own (knowing the current one), an admin resets anyone's.

Either way the new password must meet the rules (:func:`~tokenward.passwords.check_password_rules`),
only its argon2id hash is stored, every other session of the account ends in the same
transaction (a session opened with the old password must not outlive it), and the change is
audited without the password. A wrong current password counts against the account's
failed-login limit, as a wrong login does, so this is no way round it.
"""

from __future__ import annotations

import dataclasses

from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidInput, NotFound
from tokenward.domain.model import Actor, UserRecord
from tokenward.domain.tokens import is_id
from tokenward.passwords import MAX_LENGTH, PasswordHasher, check_password_rules
from tokenward.ratelimit import FailureLimiter
from tokenward.store.base import Store

__all__ = ["PasswordChange", "PasswordService", "check_length"]

CHANGED = "user.password_changed"  # by the user, who knew the current password
RESET = "user.password_reset"  # by an admin, or at the command line
FAILED = "user.password_change_failed"


@dataclasses.dataclass(frozen=True)
class PasswordChange:
    user: UserRecord
    sessions_ended: int


class PasswordService:
    def __init__(
        self, store: Store, clock: Clock, passwords: PasswordHasher, limiter: FailureLimiter
    ) -> None:
        self.store = store
        self.clock = clock
        self.passwords = passwords
        self.limiter = limiter  # the failed-login limit, per username

    def change(
        self, user_id: str, current: str, new: str, by: Actor, keep_session: str | None = None
    ) -> PasswordChange:
        """Change ``user_id``'s own password; every session but ``keep_session`` (the one the
        change was made in) ends. :class:`InvalidInput` naming ``current_password`` when it is
        wrong, :class:`~tokenward.domain.errors.RateLimited` after too many wrong ones."""
        check_length("current_password", current)  # before any hashing
        _check_new(new)
        user = self._user(user_id)
        key = f"user:{user.username}"
        self.limiter.check(key)
        if not self.passwords.verify(user.password_hash, current):
            self.limiter.fail(key)
            self._audit_failure(user, by)
            raise InvalidInput("current_password", "is not the current password")
        return self._replace(user, new, by, keep_session, CHANGED)

    def reset(
        self, user_id: str, new: str, by: Actor, keep_session: str | None = None
    ) -> PasswordChange:
        """Set ``user_id``'s password (an admin's act); every session but ``keep_session``
        ends."""
        _check_new(new)
        return self._replace(self._user(user_id), new, by, keep_session, RESET)

    def _user(self, user_id: str) -> UserRecord:
        with self.store.transaction() as tx:
            user = tx.users.by_id(user_id) if is_id(user_id, "usr") else None
        if user is None:
            raise NotFound("no such user")
        return user

    def _replace(
        self, user: UserRecord, new: str, by: Actor, keep: str | None, event: str
    ) -> PasswordChange:
        hashed = self.passwords.hash(new)  # slow: outside the transaction
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.users.set_password_hash(user.id, hashed)
            live = [s.id for s in tx.sessions.live_of(user.id, now) if s.id != keep]
            ended = [session_id for session_id in live if tx.sessions.end(session_id, now)]
            details = {"username": user.username, "sessions_ended": len(ended)}
            tx.events.append(by.event(event, now, user.id, details | {"session_ids": ended}))
        return PasswordChange(dataclasses.replace(user, password_hash=hashed), len(ended))

    def _audit_failure(self, user: UserRecord, by: Actor) -> None:
        now = self.clock.now()
        details = {"username": user.username, "reason": "wrong current password"}
        with self.store.transaction() as tx:
            tx.events.append(by.event(FAILED, now, user.id, details, outcome="failed"))


def check_length(field: str, password: str) -> None:
    """Refuse a password longer than any account can have, before it is hashed: hashing a
    megabyte of input on every request would be a cheap way to load the server."""
    if len(password) > MAX_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_LENGTH} characters")


def _check_new(password: str) -> None:
    try:
        check_password_rules(password)
    except InvalidInput as error:
        raise InvalidInput("new_password", error.message) from None
