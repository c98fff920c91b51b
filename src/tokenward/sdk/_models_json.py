"""The API's JSON (API.md) read into the client's values; fields it does not know are ignored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from tokenward.sdk._models import (
    AuditEvent,
    CreatedToken,
    CreatedWebhook,
    Deactivation,
    Introspection,
    LifetimePolicy,
    LifetimeRule,
    Policy,
    Revocation,
    RotatedToken,
    SelfInfo,
    TokenInfo,
    User,
    UserRef,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "audit_event",
    "created_token",
    "created_webhook",
    "deactivation",
    "introspection",
    "lifetime_policy",
    "policy",
    "revocation",
    "rotated_token",
    "self_info",
    "token_info",
    "user",
    "webhook",
    "webhook_delivery",
]

Json = Mapping[str, Any]


def time(value: str) -> datetime:
    """An RFC 3339 time as an aware datetime (a zone-less one is taken as UTC)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def maybe_time(value: str | None) -> datetime | None:
    return None if value is None else time(value)


def _epoch(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _nodes(body: Json, key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    return None if value is None else tuple(value)


def self_info(body: Json) -> SelfInfo:
    user = body["user"]
    return SelfInfo(
        id=body["id"],
        kind=body["kind"],
        label=body["label"],
        scopes=tuple(body["scopes"]),
        user=UserRef(user["id"], user["username"]),
        created_at=time(body["created_at"]),
        expires_at=maybe_time(body.get("expires_at")),
        last_used_at=maybe_time(body.get("last_used_at")),
    )


def _rule(body: Json) -> LifetimeRule:
    return LifetimeRule(
        body["default_days"], body["max_days"], bool(body.get("allow_no_expiry", False))
    )


def lifetime_policy(body: Json) -> LifetimePolicy:
    return LifetimePolicy(
        _rule(body["user_token"]), _rule(body["admin_key"]), tuple(body["reminder_days"])
    )


def policy(body: Json) -> Policy:
    return Policy(
        user_token=_rule(body["user_token"]),
        admin_key=_rule(body["admin_key"]),
        reminder_days=tuple(body.get("reminder_days", ())),
        max_staleness_ms=body["max_staleness_ms"],
        scopes=tuple(body.get("scopes", ())),
    )


def created_token(body: Json) -> CreatedToken:
    return CreatedToken(
        id=body["id"],
        token=body["token"],
        label=body["label"],
        scopes=tuple(body["scopes"]),
        created_at=time(body["created_at"]),
        expires_at=maybe_time(body.get("expires_at")),
        hint=body["hint"],
    )


def rotated_token(body: Json) -> RotatedToken:
    return RotatedToken(
        **vars(created_token(body)),
        rotated_from=body["rotated_from"],
        grace_seconds=body["grace_seconds"],
        grace_until=maybe_time(body.get("grace_until")),
    )


def token_info(body: Json) -> TokenInfo:
    return TokenInfo(
        id=body["id"],
        kind=body["kind"],
        label=body["label"],
        hint=body["hint"],
        scopes=tuple(body["scopes"]),
        status=body["status"],
        created_at=time(body["created_at"]),
        expires_at=maybe_time(body.get("expires_at")),
        revoked_at=maybe_time(body.get("revoked_at")),
        last_used_at=maybe_time(body.get("last_used_at")),
        last_used_from=body.get("last_used_from"),
        user_id=body.get("user_id"),
        rotated_from=body.get("rotated_from"),
        rotated_to=body.get("rotated_to"),
        grace_until=maybe_time(body.get("grace_until")),
    )


def revocation(body: Json) -> Revocation:
    return Revocation(
        id=body["id"],
        status=body["status"],
        revoked_at=maybe_time(body.get("revoked_at")),
        effective_by=time(body["effective_by"]),
        confirmed_by=_nodes(body, "confirmed_by"),
        pending=_nodes(body, "pending"),
    )


def introspection(body: Json) -> Introspection:
    if body.get("active") is not True:
        return Introspection(active=False)  # RFC 7662 §2.2: nothing else is meaningful
    scope = body.get("scope")
    return Introspection(
        active=True,
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        client_id=body.get("client_id"),
        username=body.get("username"),
        sub=body.get("sub"),
        token_type=body.get("token_type"),
        exp=_epoch(body.get("exp")),
        iat=_epoch(body.get("iat")),
        tokenward_id=body.get("tokenward_id"),
    )


def user(body: Json) -> User:
    return User(
        id=body["id"],
        username=body["username"],
        is_admin=body["is_admin"],
        status=body["status"],
        created_at=maybe_time(body.get("created_at")),
        active_tokens=body.get("active_tokens"),
        email=body.get("email"),
    )


def deactivation(body: Json) -> Deactivation:
    return Deactivation(
        id=body["id"],
        status=body["status"],
        tokens_revoked=body["tokens_revoked"],
        sessions_ended=body.get("sessions_ended", 0),
        effective_by=time(body["effective_by"]),
        confirmed_by=_nodes(body, "confirmed_by"),
        pending=_nodes(body, "pending"),
    )


def audit_event(body: Json) -> AuditEvent:
    return AuditEvent(
        seq=body["seq"],
        at=time(body["at"]),
        type=body["type"],
        actor=body.get("actor"),
        subject=body.get("subject"),
        ip=body.get("ip"),
        user_agent=body.get("user_agent"),
        outcome=body.get("outcome"),
        details=MappingProxyType(dict(body.get("details") or {})),
    )


def webhook(body: Json) -> Webhook:
    return Webhook(
        id=body["id"],
        url=body["url"],
        events=tuple(body["events"]),
        created_at=time(body["created_at"]),
        created_by=body.get("created_by"),
    )


def created_webhook(body: Json) -> CreatedWebhook:
    return CreatedWebhook(**vars(webhook(body)), secret=body["secret"])


def webhook_delivery(body: Json) -> WebhookDelivery:
    return WebhookDelivery(
        id=body["id"],
        event_seq=body["event_seq"],
        event_type=body["event_type"],
        status=body["status"],
        attempts=body["attempts"],
        created_at=time(body["created_at"]),
        last_status_code=body.get("last_status_code"),
        last_error=body.get("last_error"),
        next_attempt_at=maybe_time(body.get("next_attempt_at")),
        delivered_at=maybe_time(body.get("delivered_at")),
    )
