"""Indexes for the admin lists and the audit log at a million tokens.

Every list is newest first by ``(created_at, id)`` and every audit read is ordered by ``seq``,
so each filter gets an index that ends in that order: the query walks the index and stops at
the page's limit instead of scanning and sorting the table. Revoked tokens are a minority, so
their index holds only them. ``?status=expired`` sorts the keys of expired tokens from two
indexes over unrevoked tokens, by expiry and by end of grace, each holding ``(created_at, id)``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_REVOKED = sa.text("revoked_at IS NOT NULL")
_UNREVOKED = sa.text("revoked_at IS NULL")
_ENDS = (("ix_tokens_expired", "expires_at"), ("ix_tokens_grace_ended", "grace_until"))
_TOKENS = (
    ("ix_tokens_created", ["created_at", "id"]),
    ("ix_tokens_kind_created", ["kind", "created_at", "id"]),
)
_EVENTS = (
    ("ix_events_type", "ix_events_type_seq", "type"),
    ("ix_events_subject", "ix_events_subject_seq", "subject"),
    ("ix_events_actor", "ix_events_actor_seq", "actor"),
)


def upgrade() -> None:
    for name, columns in _TOKENS:
        op.create_index(name, "tokens", columns)
    op.create_index(
        "ix_tokens_revoked_created",
        "tokens",
        ["created_at", "id"],
        postgresql_where=_REVOKED,
        sqlite_where=_REVOKED,
    )
    for name, column in _ENDS:
        op.create_index(
            name,
            "tokens",
            [column, "created_at", "id"],
            postgresql_where=_UNREVOKED,
            sqlite_where=_UNREVOKED,
        )
    for old, new, column in _EVENTS:
        op.create_index(new, "events", [column, "seq"])
        op.drop_index(old, "events")


def downgrade() -> None:
    for old, new, column in _EVENTS:
        op.create_index(old, "events", [column])
        op.drop_index(new, "events")
    for name in ("ix_tokens_revoked_created", *(n for n, _ in _ENDS + _TOKENS)):
        op.drop_index(name, "tokens")
