"""What the API should hold, kept by the model test beside the real one: every token and user,
the clock, and the audit events each change must write. Pure: no HTTP, no store.

The rules are the documented ones (README "Rotation, leaks…", docs/api.md): a token is live
until revoked, expired or rotated out past its grace; a rotated token's grace starts at its
successor's first successful use and ends ``grace_seconds`` later, 7 days after the rotation
at most; deactivation revokes every active token of the account.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta

__all__ = ["Credential", "Model", "Session", "Token", "User"]

MAX_GRACE = timedelta(days=7)
ADMIN_SCOPES = frozenset({"admin", "introspect"})


@dataclasses.dataclass
class Token:
    id: str
    secret: str
    owner: str  # user id
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime
    revoked: bool = False
    rotated_from: str | None = None
    rotated_to: str | None = None
    grace_seconds: int = 0
    grace_until: datetime | None = None  # the 7-day cap until the grace starts
    grace_started: bool = False

    def status(self, now: datetime) -> str:
        """As ``GET /v1/tokens`` shows it: revoked wins over expired; past its grace, expired."""
        if self.revoked:
            return "revoked"
        if self.expires_at <= now or (self.grace_until is not None and self.grace_until <= now):
            return "expired"
        return "active"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def usable_until(self) -> datetime:
        """When the secret stops working: its expiry, or its grace's end if sooner."""
        return min(self.expires_at, self.grace_until or self.expires_at)


@dataclasses.dataclass
class Session:
    cookie: str  # "name=value", as the browser sends it back
    csrf: str
    expires_at: datetime

    def has_scope(self, scope: str) -> bool:
        """A session acts as its (non-admin) user."""
        return scope not in ADMIN_SCOPES


Credential = Token | Session


@dataclasses.dataclass
class User:
    id: str
    name: str
    password: str
    active: bool = True
    session: Session | None = None


class Model:
    """The expected state; every change also notes the events it must write."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.max_days = 365  # the policy's user_token.max_days (the default's until changed)
        self.tokens: dict[str, Token] = {}
        self.users: dict[str, User] = {}
        self._expected: Counter[tuple[str, str]] = Counter()

    def expect(self, type: str, subject: str) -> None:
        self._expected[(type, subject)] += 1

    def take_expected(self) -> Counter[tuple[str, str]]:
        """The events expected since the last call."""
        expected, self._expected = self._expected, Counter()
        return expected

    def live(self, token: Token) -> bool:
        return token.status(self.now) == "active" and self.users[token.owner].active

    def live_session(self, user: User) -> Session | None:
        session = user.session
        if session is None or not user.active or session.expires_at <= self.now:
            return None
        return session

    def credentials(self, user: User) -> list[Credential]:
        """What the user can act with now: live tokens, then a live session."""
        found: list[Credential] = [
            t for t in self.tokens.values() if t.owner == user.id and self.live(t)
        ]
        session = self.live_session(user)
        return found if session is None else [*found, session]

    def of(self, user: User) -> dict[str, Token]:
        return {t.id: t for t in self.tokens.values() if t.owner == user.id}

    def used(self, credential: Credential) -> None:
        """A successful verification: a successor's first one starts its predecessor's grace."""
        if not isinstance(credential, Token) or credential.rotated_from is None:
            return
        old = self.tokens[credential.rotated_from]
        if old.rotated_to != credential.id or old.grace_started:
            return
        assert old.grace_until is not None
        old.grace_started = True
        old.grace_until = min(self.now + timedelta(seconds=old.grace_seconds), old.grace_until)
        self.expect("token.grace_started", old.id)

    def created(self, token: Token) -> None:
        self.tokens[token.id] = token
        self.expect("token.created", token.id)

    def revoke(self, token: Token) -> None:
        """Revoke (``DELETE``): permanent and idempotent; an expired token is revoked too."""
        if not token.revoked:
            token.revoked = True
            self.expect("token.revoked", token.id)

    def rotation_refusal(self, credential: Credential, old: Token) -> int | None:
        """The status a rotation of ``old`` by its owner's ``credential`` (holding
        ``tokens:write``) is refused with: 409 for a dead or rotated token, 403 for a
        credential without every scope of ``old``."""
        if old.revoked or old.rotated_to is not None or old.status(self.now) != "active":
            return 409
        if not all(credential.has_scope(scope) for scope in old.scopes):
            return 403
        return None

    def rotated(self, old: Token, new_id: str, secret: str, grace_seconds: int) -> Token:
        """The successor: same owner and scopes, the old lifetime length from now."""
        length = min(old.expires_at - old.created_at, timedelta(days=self.max_days))
        new = Token(new_id, secret, old.owner, old.scopes, self.now, self.now + length)
        new.rotated_from = old.id
        old.rotated_to, old.grace_seconds = new.id, grace_seconds
        old.grace_until = self.now + MAX_GRACE
        self.created(new)
        self.expect("token.rotated", old.id)
        return new

    def revoke_active(self, user: User) -> int:
        """Revoke every active token of ``user`` (deactivation, logout everywhere)."""
        active = [t for t in self.of(user).values() if t.status(self.now) == "active"]
        for token in active:
            self.revoke(token)
        return len(active)

    def deactivate(self, user: User) -> int:
        if not user.active:
            return 0
        revoked = self.revoke_active(user)
        user.active, user.session = False, None
        self.expect("user.deactivated", user.id)
        return revoked

    def reactivate(self, user: User) -> None:
        if not user.active:
            user.active = True
            self.expect("user.reactivated", user.id)

    def leaked(self, secrets: list[str]) -> None:
        """A leak report: every active token among ``secrets`` is revoked and marked leaked."""
        for token in self.tokens.values():
            if token.secret in secrets and token.status(self.now) == "active":
                self.revoke(token)
                self.expect("token.leaked", token.id)
        self.expect("leak.reported", "leaks")

    def logged_out_everywhere(self, user: User, revoke_tokens: bool) -> int:
        user.session = None
        self.expect("session.logout_all", user.id)
        return self.revoke_active(user) if revoke_tokens else 0

    def deadlines(self) -> list[datetime]:
        """Every future moment at which something dies: expiries, grace ends, sessions."""
        moments = [t.expires_at for t in self.tokens.values()]
        moments += [t.grace_until for t in self.tokens.values() if t.grace_until is not None]
        moments += [u.session.expires_at for u in self.users.values() if u.session is not None]
        return sorted(m for m in set(moments) if m > self.now)

    def probe_changes_state(self, token: Token) -> bool:
        """Whether verifying ``token`` would write something: the first use of a successor."""
        if not self.live(token) or token.rotated_from is None:
            return False
        old = self.tokens[token.rotated_from]
        return old.rotated_to == token.id and not old.grace_started
