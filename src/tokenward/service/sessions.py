"""Web sessions: log in with a password, log out, log out everywhere; CSRF tokens.

The cookie carries a secret of the token format (``tws_…``); the store keeps only its digest.
The CSRF token is an HMAC of that secret, so it needs no storage and cannot be derived by a page
that cannot read the (``HttpOnly``) cookie.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from datetime import datetime, timedelta

from tokenward.domain import tokens as token_format
from tokenward.domain.clock import Clock
from tokenward.domain.errors import InvalidInput, InvalidToken, LoginFailed
from tokenward.domain.model import (
    Actor,
    Principal,
    SessionRecord,
    UserStatus,
    normalise_username,
)
from tokenward.domain.tokens import TokenKind
from tokenward.passwords import PasswordHasher
from tokenward.ratelimit import LoginLimits
from tokenward.service.accounts import end_all_sessions_of, revoke_all_tokens_of
from tokenward.service.credentials import check_length
from tokenward.service.tokens import record_revocations
from tokenward.store.base import Store

__all__ = ["Login", "LogoutAll", "SessionService", "csrf_token_for"]

_CSRF_CONTEXT = b"tokenward csrf v1"


def csrf_token_for(session_secret: str) -> str:
    """The CSRF token bound to a session cookie's secret."""
    mac = hmac.new(session_secret.encode(), _CSRF_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


@dataclasses.dataclass(frozen=True)
class Login:
    session: SessionRecord
    secret: str  # goes into the cookie, never stored

    @property
    def csrf_token(self) -> str:
        return csrf_token_for(self.secret)


@dataclasses.dataclass(frozen=True)
class LogoutAll:
    sessions_ended: int
    tokens_revoked: int
    effective_by: datetime


class SessionService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        passwords: PasswordHasher,
        lifetime: timedelta,
        limits: LoginLimits,
        max_staleness: timedelta,
    ) -> None:
        self.store = store
        self.clock = clock
        self.passwords = passwords
        self.lifetime = lifetime
        self.limits = limits
        self.max_staleness = max_staleness
        # Verified against when the user does not exist, so both failures cost the same time.
        self._decoy_hash = passwords.hash("decoy password, never a real one")

    def slowdown(self, username: str) -> float:
        """Seconds to wait before trying ``username``'s password: more than 0 once the name
        has failed too often (see :class:`~tokenward.ratelimit.LoginLimits`). The caller waits
        without holding a thread."""
        return self.limits.slowdown(_name(username))

    def login(self, username: str, password: str, by: Actor) -> Login:
        """A new session for a right username and password; :class:`LoginFailed` otherwise,
        the same for an unknown user, a wrong password and a deactivated account. A password
        longer than any account can have is refused (:class:`InvalidInput`) before hashing;
        :class:`RateLimited` when this name has failed too often from this address."""
        check_length("password", password)
        name = _name(username)
        self.limits.check(name, by.ip)
        with self.store.transaction() as tx:
            user = None if name is None else tx.users.by_name(name)
        stored_hash = self._decoy_hash if user is None else user.password_hash
        matched = self.passwords.verify(stored_hash, password)
        now = self.clock.now()
        if user is None or not matched or user.status is not UserStatus.ACTIVE:
            self.limits.fail(name, by.ip)
            subject = "unknown user" if user is None else user.id
            with self.store.transaction() as tx:
                tx.events.append(by.event("session.login_failed", now, subject, outcome="failed"))
            raise LoginFailed()
        secret = token_format.generate(TokenKind.SESSION)
        session = SessionRecord(
            id=token_format.new_id("ses"),
            user_id=user.id,
            digest=token_format.digest(secret),
            created_at=now,
            expires_at=now + self.lifetime,
            ip=by.ip,
            user_agent=by.user_agent,
        )
        with self.store.transaction() as tx:
            tx.sessions.add(session)
            tx.events.append(by.event("session.created", now, session.id, {"user_id": user.id}))
        return Login(session, secret)

    def verify(self, secret: str) -> Principal:
        """The principal of a session cookie, or :class:`InvalidToken`."""
        if token_format.parse(secret) is not TokenKind.SESSION:
            raise InvalidToken()
        digest = token_format.digest(secret)
        found = self.store.session_by_digest(digest)
        if found is None or not hmac.compare_digest(found[0].digest, digest):
            raise InvalidToken()
        session, user = found
        if not session.is_live(self.clock.now()) or user.status is not UserStatus.ACTIVE:
            raise InvalidToken("expired")
        return Principal(user, session=session)

    def logout(self, session: SessionRecord, by: Actor) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if tx.sessions.end(session.id, now):  # once, whoever else ends it meanwhile
                details = {"user_id": session.user_id}
                tx.events.append(by.event("session.ended", now, session.id, details))

    def logout_all(self, user_id: str, *, revoke_tokens: bool, by: Actor) -> LogoutAll:
        """End every session of the user and, if asked, revoke every token too: one
        transaction, one event per token."""
        now = self.clock.now()
        reason = "logout everywhere"
        with self.store.transaction() as tx:  # rows as a deactivation: tokens, then sessions
            revoked = revoke_all_tokens_of(tx, user_id, now, by, reason) if revoke_tokens else []
            ended = end_all_sessions_of(tx, user_id, now)
            record_revocations(tx, revoked, now, by, reason)
            details = {"sessions_ended": len(ended), "tokens_revoked": len(revoked)}
            tx.events.append(by.event("session.logout_all", now, user_id, details))
        return LogoutAll(len(ended), len(revoked), now + self.max_staleness)


def _name(username: str) -> str | None:
    try:
        return normalise_username(username)
    except InvalidInput:
        return None
