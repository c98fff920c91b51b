"""Rows as the records every store returns, and records as the values a row is written from."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy.engine import Row

from tokenward.domain.model import Event, SessionRecord, TokenRecord, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind
from tokenward.store.records import DeliveryRecord, WebhookRecord
from tokenward.store.tables import users

__all__ = [
    "as_values",
    "delivery_record",
    "event_record",
    "owner_record",
    "session_record",
    "token_record",
    "user_record",
    "webhook_record",
]


def as_values(record: Any) -> dict[str, Any]:
    """A dataclass record's fields by name: the values of its row."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def user_record(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        is_admin=bool(row.is_admin),
        status=UserStatus(row.status),
        created_at=row.created_at,
        email=row.email,
    )


def token_record(row: Row[Any]) -> TokenRecord:
    """A row of ``tokens`` as the record every store returns."""
    return TokenRecord(
        id=row.id,
        kind=TokenKind(row.kind),
        user_id=row.user_id,
        created_by=row.created_by,
        label=row.label,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        digest=row.digest,
        hint=row.hint,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
        last_used_at=row.last_used_at,
        last_used_from=row.last_used_from,
        rotated_from=row.rotated_from,
        rotated_to=row.rotated_to,
        rotated_at=row.rotated_at,
        grace_seconds=row.grace_seconds,
        grace_started_at=row.grace_started_at,
        grace_until=row.grace_until,
    )


def event_record(row: Row[Any]) -> Event:
    return Event(
        seq=row.seq,
        at=row.at,
        type=row.type,
        actor=row.actor,
        subject=row.subject,
        ip=row.ip,
        details=dict(row.details),
        user_agent=row.user_agent,
        outcome=row.outcome,
    )


def session_record(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        digest=row.digest,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ip=row.ip,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
    )


def owner_record(row: Row[Any]) -> UserRecord:
    """The owner's columns of a row joined with ``users`` (labelled ``owner_*``)."""
    return user_record(
        SimpleNamespace(**{c.name: getattr(row, f"owner_{c.name}") for c in users.c})
    )


def webhook_record(row: Any) -> WebhookRecord:
    return WebhookRecord(**{**row._mapping, "events": tuple(row.events)})


def delivery_record(row: Any) -> DeliveryRecord:
    # The columns are the record's fields, by name: a column added alone fails here, loudly.
    return DeliveryRecord(**row._mapping)
