"""Tables of the notifier: the scheduler lease, reminders sent, the dispatch cursor, webhook
endpoints and the delivery log. On the shared ``metadata``; created by migration 0005."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from tokenward.store.tables import UTCDateTime, metadata, tokens

__all__ = ["deliveries", "leases", "notify_cursors", "reminders_sent", "webhooks"]

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
