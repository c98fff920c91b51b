"""Nodes: each serving process's applied watermark and heartbeat (revocation receipts).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tokenward.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(96), primary_key=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
        sa.Column("applied_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_nodes_heartbeat", "nodes", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_table("nodes")
