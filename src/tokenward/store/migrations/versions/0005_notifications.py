"""Notifications: scheduler lease, reminders sent, dispatch cursor, webhooks, deliveries, and
an optional email address on users.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tokenward.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(96), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "reminders_sent",
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("mark", sa.String(16), nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("token_id", "mark", name="pk_reminders_sent"),
    )
    op.create_table(
        "notify_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    # An existing deployment starts dispatching from now on: its history is not news.
    op.execute(
        "INSERT INTO notify_cursors (name, seq) SELECT 'dispatch', COALESCE(MAX(seq), 0) "
        "FROM events"
    )
    _webhooks_and_deliveries()


def _webhooks_and_deliveries() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("after_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(256), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("channel", "target", "event_seq", name="uq_deliveries_target_event"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_target", "deliveries", ["target", "created_at"])


def downgrade() -> None:
    for table in ("deliveries", "webhooks", "notify_cursors", "reminders_sent", "leases"):
        op.drop_table(table)
    op.drop_index("ix_tokens_expires_at", "tokens")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
