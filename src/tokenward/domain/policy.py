"""Lifetime policy: how long tokens live, by kind.

User tokens default to 90 days, at most 365, with no-expiry off unless an admin allows it; admin
API keys default to 7 days, at most 365. Any ``expires_at`` in (now, now + maximum] is accepted.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from tokenward.domain.errors import InvalidInput
from tokenward.domain.tokens import TokenKind

__all__ = ["ABSOLUTE_MAX_DAYS", "LifetimeRule", "Policy", "resolve_expiry"]

ABSOLUTE_MAX_DAYS = 365


@dataclasses.dataclass(frozen=True)
class LifetimeRule:
    """Default and maximum lifetime, in days, of one kind of token."""

    default_days: int
    max_days: int
    allow_no_expiry: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_days <= ABSOLUTE_MAX_DAYS:
            raise InvalidInput("max_days", f"must be between 1 and {ABSOLUTE_MAX_DAYS}")
        if not 1 <= self.default_days <= self.max_days:
            raise InvalidInput("default_days", f"must be between 1 and max_days ({self.max_days})")


@dataclasses.dataclass(frozen=True)
class Policy:
    """The organisation's lifetime rules."""

    user_token: LifetimeRule = LifetimeRule(default_days=90, max_days=365)
    admin_key: LifetimeRule = LifetimeRule(default_days=7, max_days=365)

    def rule_for(self, kind: TokenKind) -> LifetimeRule:
        return self.admin_key if kind is TokenKind.ADMIN else self.user_token


def resolve_expiry(
    rule: LifetimeRule,
    now: datetime,
    *,
    expires_in_days: int | None = None,
    expires_at: datetime | None = None,
    never_expires: bool = False,
) -> datetime | None:
    """Turn what a caller asked for into an expiry time, or ``None`` for never.

    At most one of the three may be given; none means the rule's default.
    """
    given = [
        name
        for name, value in (
            ("expires_in_days", expires_in_days),
            ("expires_at", expires_at),
            ("never_expires", never_expires or None),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidInput(given[1], f"give only one of {', '.join(given)}")
    limit = now + timedelta(days=rule.max_days)
    if never_expires:
        if not rule.allow_no_expiry:
            raise InvalidInput("never_expires", "the policy requires every token to expire")
        return None
    if expires_at is not None:
        return _checked_expires_at(expires_at, now, limit, rule.max_days)
    days = rule.default_days if expires_in_days is None else expires_in_days
    if not 1 <= days <= rule.max_days:
        raise InvalidInput(
            "expires_in_days", f"must be between 1 and the policy maximum of {rule.max_days} days"
        )
    return now + timedelta(days=days)


def _checked_expires_at(
    expires_at: datetime, now: datetime, limit: datetime, max_days: int
) -> datetime:
    if expires_at.tzinfo is None:
        raise InvalidInput("expires_at", "must carry a time zone (RFC 3339)")
    if expires_at <= now:
        raise InvalidInput("expires_at", "must be in the future")
    if expires_at > limit:
        raise InvalidInput("expires_at", f"exceeds the policy maximum of {max_days} days")
    return expires_at
