"""Lifetime policy: how long tokens live, by kind.

User tokens default to 90 days, at most 365, with no-expiry off unless an admin allows it; admin
API keys default to 7 days, at most 365. Any ``expires_at`` in (now, now + maximum] is accepted.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from tokenward.domain.errors import InvalidInput
from tokenward.domain.tokens import TokenKind

__all__ = [
    "ABSOLUTE_MAX_DAYS",
    "LifetimeRule",
    "Policy",
    "policy_from_document",
    "policy_to_document",
    "resolve_expiry",
]

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
    reminder_days: tuple[int, ...] = (30, 7, 1)
    # Off by default: an old secret presented after its grace is far more often a forgotten
    # copy in some config than a thief, and revoking the family would break the integration
    # that rotated correctly. The owner is told either way (``token.reuse_detected``).
    revoke_family_on_reuse: bool = False

    def __post_init__(self) -> None:
        days = self.reminder_days
        if any(not 1 <= d <= ABSOLUTE_MAX_DAYS for d in days) or len(set(days)) != len(days):
            raise InvalidInput(
                "reminder_days", f"must be distinct whole days between 1 and {ABSOLUTE_MAX_DAYS}"
            )
        if self.admin_key.allow_no_expiry:
            raise InvalidInput("admin_key.allow_no_expiry", "admin keys always expire")

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


def policy_to_document(policy: Policy) -> dict[str, object]:
    """The JSON form of a policy, as the API shows it and the store keeps it."""
    user, admin = policy.user_token, policy.admin_key
    return {
        "user_token": {
            "default_days": user.default_days,
            "max_days": user.max_days,
            "allow_no_expiry": user.allow_no_expiry,
        },
        "admin_key": {"default_days": admin.default_days, "max_days": admin.max_days},
        "reminder_days": sorted(policy.reminder_days, reverse=True),
        "revoke_family_on_reuse": policy.revoke_family_on_reuse,
    }


def policy_from_document(document: dict[str, object]) -> Policy:
    """Build a policy from its JSON form, or raise :class:`InvalidInput` naming the field."""
    _only(document, {"user_token", "admin_key", "reminder_days", "revoke_family_on_reuse"}, "")
    user = _section(document, "user_token", {"default_days", "max_days", "allow_no_expiry"})
    admin = _section(document, "admin_key", {"default_days", "max_days"})
    reminders = document.get("reminder_days")
    if not isinstance(reminders, list) or not all(_is_int(d) for d in reminders):
        raise InvalidInput("reminder_days", "must be a list of whole days")
    # Optional, so that documents stored before the switch existed still load.
    revoke_family = document.get("revoke_family_on_reuse", False)
    if not isinstance(revoke_family, bool):
        raise InvalidInput("revoke_family_on_reuse", "must be true or false")
    return Policy(
        user_token=_rule("user_token", user),
        admin_key=_rule("admin_key", admin),
        reminder_days=tuple(sorted(reminders, reverse=True)),
        revoke_family_on_reuse=revoke_family,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _only(document: dict[str, object], allowed: set[str], prefix: str) -> None:
    for key in document:
        if key not in allowed:
            raise InvalidInput(prefix + key, "is not a policy field")


def _section(document: dict[str, object], name: str, allowed: set[str]) -> dict[str, object]:
    section = document.get(name)
    if not isinstance(section, dict):
        raise InvalidInput(name, "must be an object")
    _only(section, allowed, f"{name}.")
    return section


def _rule(name: str, section: dict[str, object]) -> LifetimeRule:
    values: dict[str, object] = {}
    for key in ("default_days", "max_days"):
        if not _is_int(section.get(key)):
            raise InvalidInput(f"{name}.{key}", "must be a whole number of days")
        values[key] = section[key]
    no_expiry = section.get("allow_no_expiry", False)
    if not isinstance(no_expiry, bool):
        raise InvalidInput(f"{name}.allow_no_expiry", "must be true or false")
    try:
        return LifetimeRule(
            default_days=int(str(values["default_days"])),
            max_days=int(str(values["max_days"])),
            allow_no_expiry=no_expiry,
        )
    except InvalidInput as error:
        raise InvalidInput(f"{name}.{error.field}", error.message) from None
