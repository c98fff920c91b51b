"""The SQL of a token list: its filters, its order, and the plan each filter should get.

Every list is newest first by ``(created_at, id)``; each filter has an index that ends in that
order (migration 0006), so a page is an index walk stopped at the limit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tokenward.domain.model import TokenStatus
from tokenward.store.base import TokenQuery
from tokenward.store.tables import UTCDateTime, tokens

__all__ = ["status_clause", "token_list"]


def status_clause(status: TokenStatus, now: Any) -> sa.ColumnElement[bool]:
    """The tokens whose status at ``now`` is ``status``."""
    c = tokens.c
    if status is TokenStatus.REVOKED:
        return c.revoked_at.is_not(None)
    # A rotated token whose grace is over counts as expired, as TokenRecord.status says.
    if status is TokenStatus.EXPIRED:
        return sa.and_(c.revoked_at.is_(None), sa.or_(c.expires_at <= now, c.grace_until <= now))
    return sa.and_(
        c.revoked_at.is_(None),
        sa.or_(c.expires_at.is_(None), c.expires_at > now),
        sa.or_(c.grace_until.is_(None), c.grace_until > now),
    )


def token_list(query: TokenQuery) -> sa.Select[Any]:
    """One page of ``query``, newest first."""
    stmt = tokens.select().where(*_filters(query))
    if query.status is TokenStatus.EXPIRED:
        # Expired tokens are the oldest ones, so walking the newest-first index to find them
        # would read most of the table. They are found by their expiry indexes instead and
        # then sorted: OFFSET 0 keeps the planner from merging the two steps back into a walk.
        fenced = stmt.offset(0).subquery()
        return _newest_first(sa.select(fenced), fenced.c, query.limit)
    return _newest_first(stmt, tokens.c, query.limit)


def _newest_first(stmt: sa.Select[Any], c: Any, limit: int) -> sa.Select[Any]:
    return stmt.order_by(c.created_at.desc(), c.id.desc()).limit(limit)


def _filters(query: TokenQuery) -> list[sa.ColumnElement[bool]]:
    c = tokens.c
    clauses = []
    if query.user_id is not None:
        clauses.append(c.user_id == query.user_id)
    if query.kind is not None:
        clauses.append(c.kind == query.kind.value)
    if query.status is not None:
        clauses.append(status_clause(query.status, query.now))
    if query.before is not None:
        created, token_id = query.before
        # Bound as the column's type: a cursor is compared as a stored time is, on every backend.
        after = sa.bindparam(None, created, type_=UTCDateTime())
        clauses.append(sa.tuple_(c.created_at, c.id) < sa.tuple_(after, token_id))
    return clauses
