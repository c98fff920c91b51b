"""SQLAlchemy table definitions. The schema itself is created only by the Alembic migrations;
a test checks that these definitions and the migrations agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

__all__ = [
    "deliveries",
    "events",
    "leases",
    "metadata",
    "nodes",
    "notify_cursors",
    "policy",
    "reminders_sent",
    "sessions",
    "tokens",
    "users",
    "webhooks",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Times in UTC, returned aware: ``timestamptz`` on PostgreSQL (migration 0007), so that
    no session time zone shifts a comparison; naive UTC text on SQLite."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:
            return value  # PostgreSQL in a UTC session: no copy (one per column per row read)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("email", String(254), nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(1), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("label", String(100), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_by", String(64), nullable=True),
    Column("revoke_reason", String(64), nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("last_used_from", String(64), nullable=True),
    Column("rotated_from", String(32), nullable=True),
    Column("grace_until", UTCDateTime, nullable=True),
    # 0004: rotation with grace, dead-token alarms (a tombstone keeps counting its uses).
    Column("rotated_to", String(32), nullable=True),
    Column("rotated_at", UTCDateTime, nullable=True),
    Column("grace_seconds", Integer, nullable=True),
    Column("grace_started_at", UTCDateTime, nullable=True),
    Column("dead_use_count", Integer, nullable=False, server_default="0"),
    Column("dead_used_at", UTCDateTime, nullable=True),
    Column("dead_used_from", String(64), nullable=True),
    Column("dead_use_reported_at", UTCDateTime, nullable=True),
    Column("reuse_reported_at", UTCDateTime, nullable=True),
    Index("ix_tokens_user_created", "user_id", "created_at", "id"),
    # 0006: one index per admin-list filter, each ending in the list's order.
    Index("ix_tokens_created", "created_at", "id"),
    Index("ix_tokens_kind_created", "kind", "created_at", "id"),
)

_REVOKED = tokens.c.revoked_at.is_not(None)
_UNREVOKED = tokens.c.revoked_at.is_(None)
Index(
    "ix_tokens_revoked_created",
    tokens.c.created_at,
    tokens.c.id,
    postgresql_where=_REVOKED,
    sqlite_where=_REVOKED,
)
for _name, _end in (("ix_tokens_expired", "expires_at"), ("ix_tokens_grace_ended", "grace_until")):
    Index(
        _name,
        tokens.c[_end],
        tokens.c.created_at,
        tokens.c.id,
        postgresql_where=_UNREVOKED,
        sqlite_where=_UNREVOKED,
    )

events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("type", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("details", JSON, nullable=False),
    Column("user_agent", String(256), nullable=True),
    Column("outcome", String(16), nullable=False, server_default="success"),
    # 0006: each audit filter walks its index in seq order (rare types included).
    Index("ix_events_type_seq", "type", "seq"),
    Index("ix_events_subject_seq", "subject", "seq"),
    Index("ix_events_actor_seq", "actor", "seq"),
    sqlite_autoincrement=True,
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(256), nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_sessions_user", "user_id"),
)

# One row a serving process: how far it has applied the event log, and when it last said so.
nodes = Table(
    "nodes",
    metadata,
    Column("id", String(96), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("applied_seq", BigInteger, nullable=False),
    Index("ix_nodes_heartbeat", "heartbeat_at"),
)

# One row (id = 1): the organisation's policy as a JSON document, edited by admins.
policy = Table(
    "policy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("document", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The notifier's tables (migration 0005): the scheduler lease, reminders sent, the dispatch
# cursor, webhook endpoints and the delivery log.

# The reminder scan reads tokens by expiry, every few seconds.
ix_tokens_expires_at = Index("ix_tokens_expires_at", tokens.c.expires_at)

# One row a named lease: whoever holds an unexpired one runs that job (the notifier).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(96), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# The primary key is the guarantee: one reminder a threshold a token, whoever sends it.
reminders_sent = Table(
    "reminders_sent",
    metadata,
    Column("token_id", String(32), nullable=False),
    Column("mark", String(16), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("token_id", "mark", name="pk_reminders_sent"),
)

# How far the dispatcher has turned the event log into deliveries.
notify_cursors = Table(
    "notify_cursors",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

# The signing secret is kept as is: a webhook is signed with it, so it cannot be a digest.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("after_seq", BigInteger, nullable=False),
)

# One row an event a target (a webhook id, or an email address): the retry state and the log.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("channel", String(8), nullable=False),
    Column("target", String(320), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_code", Integer, nullable=True),
    Column("last_error", String(256), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("channel", "target", "event_seq", name="uq_deliveries_target_event"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_target", "target", "created_at"),
)
