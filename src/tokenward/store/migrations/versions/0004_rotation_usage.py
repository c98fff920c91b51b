"""Rotation with grace, tombstones and dead-token use, last-used batching.

The tokens table already has ``rotated_from``, ``grace_until`` and ``last_used_*`` (0001). This
adds the rest of a rotation (who replaced the token, when, the grace asked for, when the grace
clock started) and the bookkeeping of dead-token alarms, kept on the token's row (its
tombstone) so that every node shares one count and one "last reported" time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tokenward.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("rotated_to", sa.String(32)),
    ("rotated_at", UTCDateTime),
    ("grace_seconds", sa.Integer),
    ("grace_started_at", UTCDateTime),
    ("dead_used_at", UTCDateTime),
    ("dead_used_from", sa.String(64)),
    ("dead_use_reported_at", UTCDateTime),
    ("reuse_reported_at", UTCDateTime),
)


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.add_column(
            sa.Column("dead_use_count", sa.Integer, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("dead_use_count")
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
