"""What the management client returns: frozen values built from the API's JSON (API.md).

Fields the server adds later are ignored, so an older client keeps working against a newer
server; times are aware ``datetime`` values in UTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "AuditEvent",
    "CreatedToken",
    "CreatedWebhook",
    "Deactivation",
    "Introspection",
    "LifetimePolicy",
    "LifetimeRule",
    "Policy",
    "Revocation",
    "RotatedToken",
    "SelfInfo",
    "TokenInfo",
    "User",
    "UserRef",
    "Webhook",
    "WebhookDelivery",
]


@dataclasses.dataclass(frozen=True)
class UserRef:
    """The owner of a credential, as ``GET /v1/self`` names it."""

    id: str
    username: str


@dataclasses.dataclass(frozen=True)
class SelfInfo:
    """The presented credential's own metadata (``GET /v1/self``)."""

    id: str
    kind: str
    label: str
    scopes: tuple[str, ...]
    user: UserRef
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclasses.dataclass(frozen=True)
class LifetimeRule:
    """Default and maximum lifetime, in days, of one kind of token."""

    default_days: int
    max_days: int
    allow_no_expiry: bool = False


@dataclasses.dataclass(frozen=True)
class LifetimePolicy:
    """The organisation's lifetime rules and reminder days (``/v1/admin/policy``)."""

    user_token: LifetimeRule
    admin_key: LifetimeRule
    reminder_days: tuple[int, ...]

    def to_document(self) -> dict[str, Any]:
        """The JSON document ``PUT /v1/admin/policy`` takes (admin keys always expire)."""
        user, admin = self.user_token, self.admin_key
        return {
            "user_token": dataclasses.asdict(user),
            "admin_key": {"default_days": admin.default_days, "max_days": admin.max_days},
            "reminder_days": list(self.reminder_days),
        }


@dataclasses.dataclass(frozen=True)
class Policy(LifetimePolicy):
    """The public policy (``GET /v1/policy``): the lifetime rules, the revocation bound and the
    scopes a user token may carry."""

    max_staleness_ms: int
    scopes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class CreatedToken:
    """A token just made. ``token`` is its secret, shown this once: keep it out of logs (it is
    left out of ``repr``)."""

    id: str
    token: str = dataclasses.field(repr=False)
    label: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    hint: str


@dataclasses.dataclass(frozen=True)
class RotatedToken(CreatedToken):
    """A rotation's successor, its secret shown this once as for :class:`CreatedToken`.

    ``grace_until`` is the latest the old secret (``rotated_from``) can work: the 7-day cap, or
    its expiry if sooner. The new secret's first use starts the ``grace_seconds`` grace, which
    ``get_token(rotated_from)`` then shows as its ``grace_until``."""

    rotated_from: str
    grace_seconds: int
    grace_until: datetime | None


@dataclasses.dataclass(frozen=True)
class TokenInfo:
    """A token's metadata; ``user_id`` is set in the admin lists only. A rotated token names
    its successor (``rotated_to``) and the end of its grace; a successor names its
    predecessor (``rotated_from``)."""

    id: str
    kind: str
    label: str
    hint: str
    scopes: tuple[str, ...]
    status: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str | None
    user_id: str | None = None
    rotated_from: str | None = None  # these three: None from servers without rotation
    rotated_to: str | None = None
    grace_until: datetime | None = None


@dataclasses.dataclass(frozen=True)
class Revocation:
    """A revoke's answer. ``confirmed_by``/``pending`` name the nodes that had/had not applied
    it when the call returned; they are ``None`` unless the call asked to wait."""

    id: str
    status: str
    revoked_at: datetime | None
    effective_by: datetime
    confirmed_by: tuple[str, ...] | None = None
    pending: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Introspection:
    """An RFC 7662 answer. Only ``active`` is set for a token that is not active (§2.2); ``exp``
    and ``iat`` are datetimes rather than epoch seconds."""

    active: bool
    scopes: tuple[str, ...] = ()
    client_id: str | None = None
    username: str | None = None
    sub: str | None = None
    token_type: str | None = None
    exp: datetime | None = None
    iat: datetime | None = None
    tokenward_id: str | None = None


@dataclasses.dataclass(frozen=True)
class User:
    """An account, as the admin API shows it; ``active_tokens`` is set in the list only."""

    id: str
    username: str
    is_admin: bool
    status: str
    created_at: datetime | None = None
    active_tokens: int | None = None
    email: str | None = None  # where expiry reminders and other notices are mailed


@dataclasses.dataclass(frozen=True)
class Deactivation:
    """A deactivation's answer; ``confirmed_by``/``pending`` as in :class:`Revocation`."""

    id: str
    status: str
    tokens_revoked: int
    sessions_ended: int
    effective_by: datetime
    confirmed_by: tuple[str, ...] | None = None
    pending: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit log; ``details`` is read-only."""

    seq: int
    at: datetime
    type: str
    actor: str | None
    subject: str | None
    ip: str | None
    user_agent: str | None
    outcome: str | None
    details: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Webhook:
    """An endpoint that receives signed events of the ``events`` types (admin).

    ``url`` is left out of ``repr``: it may carry the receiver's own credential, which the
    server keeps out of its audit log for the same reason."""

    id: str
    url: str = dataclasses.field(repr=False)
    events: tuple[str, ...]
    created_at: datetime
    created_by: str | None


@dataclasses.dataclass(frozen=True)
class CreatedWebhook(Webhook):
    """A webhook just added. ``secret`` signs its deliveries (check them with
    :func:`~tokenward.sdk.verify_signature`); it is shown this once and left out of ``repr``."""

    secret: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class WebhookDelivery:
    """One event sent (or being sent) to a webhook. ``status`` is ``pending``, ``delivered``
    or ``failed``; ``next_attempt_at`` is set while pending; ``last_status_code`` and
    ``last_error`` say how the last attempt went."""

    id: str
    event_seq: int
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
