"""Times stored as ``timestamp with time zone`` on PostgreSQL.

They were ``timestamp without time zone`` holding UTC. A value PostgreSQL reads as
``timestamptz`` (a page cursor, ``now()``) was then compared after shifting it by the session's
time zone, so off UTC a page could start hours early or late. ``AT TIME ZONE 'UTC'`` reads each
stored value as the UTC it is. SQLite keeps its text times: it has no session time zone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = {
    "users": ("created_at",),
    "tokens": (
        "created_at", "expires_at", "revoked_at", "last_used_at", "grace_until", "rotated_at",
        "grace_started_at", "dead_used_at", "dead_use_reported_at", "reuse_reported_at",
    ),
    "events": ("at",),
    "sessions": ("created_at", "expires_at", "revoked_at"),
    "nodes": ("started_at", "heartbeat_at"),
    "policy": ("updated_at",),
    "leases": ("expires_at",),
    "reminders_sent": ("sent_at",),
    "webhooks": ("created_at",),
    "deliveries": ("next_attempt_at", "created_at", "delivered_at"),
}  # fmt: skip


def upgrade() -> None:
    _alter("timestamptz")


def downgrade() -> None:
    _alter("timestamp")


def _alter(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        changes = ", ".join(
            f"ALTER COLUMN {name} TYPE {to} USING {name} AT TIME ZONE 'UTC'" for name in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")
