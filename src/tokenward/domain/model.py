"""Value types: users, tokens, principals and events, as the service sees them."""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from datetime import datetime
from typing import Any

from tokenward.domain.errors import InvalidInput, InvalidToken
from tokenward.domain.scopes import ADMIN_KEY_SCOPES
from tokenward.domain.tokens import TokenKind

__all__ = [
    "EMAIL_MAX",
    "EMAIL_PATTERN",
    "EVENTS_CHANNEL",
    "MAX_SEQ",
    "WHITE_SPACE",
    "Actor",
    "DeadTokenPresented",
    "Event",
    "NodeRecord",
    "Principal",
    "SessionRecord",
    "TokenRecord",
    "TokenStatus",
    "UserRecord",
    "UserStatus",
    "check_email",
    "check_label",
    "invalidates_user",
    "normalise_username",
]

LABEL_MAX = 100
# Where a committed event's seq is announced (PostgreSQL NOTIFY channel, Redis pub/sub channel).
EVENTS_CHANNEL = "tokenward_events"
# The largest event seq there can be: both stores keep it in a signed 64-bit integer, so a
# larger number is refused at the edge (422 naming the field), never sent to the store.
MAX_SEQ = 2**63 - 1
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Deliberately plain: one @, no spaces or controls, a dotted domain; the mail server decides.
# White space spelled out (not \s), so that Python and ECMAScript (JSON Schema) read it alike.
WHITE_SPACE = r"\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
EMAIL_PATTERN = (
    rf"[^@{WHITE_SPACE}\x00-\x1f\x7f-\x9f,;:<>\"()\[\]\\]{{1,64}}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)
_EMAIL = re.compile(EMAIL_PATTERN)
EMAIL_MAX = 254
# Bidirectional overrides can make a label display as something else (CVE-2021-42574).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class TokenStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@dataclasses.dataclass(frozen=True)
class UserRecord:
    id: str
    username: str
    password_hash: str
    is_admin: bool
    status: UserStatus
    created_at: datetime
    email: str | None = None  # where notices go; optional


@dataclasses.dataclass(frozen=True)
class TokenRecord:
    """A stored token: metadata and the digest of its secret, never the secret."""

    id: str
    kind: TokenKind
    user_id: str
    created_by: str
    label: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    digest: str
    hint: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    last_used_at: datetime | None = None
    last_used_from: str | None = None
    # Rotation: the new token names the old one (``rotated_from``); the old one names the new
    # one and, until its grace ends, keeps working up to ``grace_until`` (checked on every use).
    rotated_from: str | None = None
    rotated_to: str | None = None
    rotated_at: datetime | None = None
    grace_seconds: int | None = None
    grace_started_at: datetime | None = None  # the new token's first use
    grace_until: datetime | None = None

    @property
    def usable_until(self) -> datetime | None:
        """When the secret stops working: its expiry, or the end of its rotation grace if that
        comes first (what introspection's ``exp`` and the expiry header say)."""
        ends = [t for t in (self.expires_at, self.grace_until) if t is not None]
        return min(ends) if ends else None

    def status(self, now: datetime) -> TokenStatus:
        """Derived, never stored: revoked wins over expired."""
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return TokenStatus.EXPIRED
        if self.grace_until is not None and self.grace_until <= now:
            return TokenStatus.EXPIRED  # rotated, and its grace is over
        return TokenStatus.ACTIVE


class DeadTokenPresented(InvalidToken):
    """The real secret of a stored token that is no longer valid was presented: ``reason`` is
    ``expired``, ``revoked`` or ``rotated`` (its grace is over). Raised only for a stored
    token, so unknown values stay indistinguishable; the caller may learn why (it holds the
    secret), and the alarms use ``token`` to tell the owner."""

    def __init__(self, reason: str, token: TokenRecord) -> None:
        super().__init__("revoked" if reason == "rotated" else reason)
        self.dead_because = reason
        self.token = token


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: an active user, through a valid token or a live web session."""

    user: UserRecord
    token: TokenRecord | None = None
    session: SessionRecord | None = None

    @property
    def actor(self) -> str:
        """What the audit log records as the actor: the token's or the session's id."""
        credential = self.token or self.session
        assert credential is not None  # noqa: S101 - a principal always has one
        return credential.id

    @property
    def expires_at(self) -> datetime | None:
        if self.token is not None:
            return self.token.usable_until
        return None if self.session is None else self.session.expires_at

    def has_scope(self, scope: str) -> bool:
        """Tokens hold what they were granted; a web session acts as its user, with the admin
        scopes only for an admin."""
        if self.token is not None:
            return scope in self.token.scopes
        return scope not in ADMIN_KEY_SCOPES or self.user.is_admin


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who does a change, and from where: what the audit log records of every event."""

    id: str
    ip: str | None = None
    user_agent: str | None = None

    def event(
        self,
        type: str,
        at: datetime,
        subject: str,
        details: dict[str, Any] | None = None,
        outcome: str = "success",
    ) -> Event:
        """An event done by this actor, carrying its address and user agent."""
        return Event(
            type, at, self.id, subject, self.ip, details or {}, None, self.user_agent, outcome
        )


@dataclasses.dataclass(frozen=True)
class Event:
    """One entry of the event log: the audit trail and the propagation source."""

    type: str
    at: datetime
    actor: str
    subject: str
    ip: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    seq: int | None = None
    user_agent: str | None = None
    outcome: str = "success"  # or "denied", "failed": failed admin actions are audited too


@dataclasses.dataclass(frozen=True)
class NodeRecord:
    """A serving process, as it last reported itself: the receipt for revocations."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    applied_seq: int


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """A web login: the cookie's secret is stored only as its digest, like a token's."""

    id: str
    user_id: str
    digest: str
    created_at: datetime
    expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


# User events that cannot make a verified token invalid; every other ``user.*`` event does.
_HARMLESS_USER_EVENTS = frozenset({"user.created", "user.reactivated"})


def invalidates_user(event_type: str) -> bool:
    """True if, after an event of this type, no cache may serve any token of its user."""
    return event_type.startswith("user.") and event_type not in _HARMLESS_USER_EVENTS


def check_label(label: str) -> str:
    """Return ``label`` in NFC if it is 1-100 printable characters; else raise."""
    label = unicodedata.normalize("NFC", label)
    if not label.strip():
        raise InvalidInput("label", "must not be empty")
    if len(label) > LABEL_MAX:
        raise InvalidInput("label", f"must be at most {LABEL_MAX} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS for c in label):
        raise InvalidInput("label", "must not contain control characters")
    return label


def normalise_username(raw: str) -> str:
    """Fold a username to its canonical form, or raise.

    NFKC then case folding, so ``Alice`` and its full-width form are the same account; what
    remains must be ASCII letters, digits, ``.``, ``_`` or ``-``, so that no two accounts can
    look alike on screen.
    """
    name = unicodedata.normalize("NFKC", raw).casefold()
    if not _USERNAME.fullmatch(name):
        raise InvalidInput(
            "username",
            "must be 1-64 characters: letters a-z, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
    return name


def check_email(raw: str) -> str:
    """Return ``raw`` stripped if it looks like a deliverable address (``name@example.org``);
    else raise naming ``email``."""
    email = raw.strip()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise InvalidInput("email", "must be an address such as name@example.org")
    return email
