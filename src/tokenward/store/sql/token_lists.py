"""The SQL of a token list: its filters, its order, and the plan each filter should get.

Every list is newest first by ``(created_at, id)``; each filter has an index that ends in that
order (migration 0006), so a page is an index walk stopped at the limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tokenward.domain.model import TokenStatus
from tokenward.store.records import TokenQuery
from tokenward.store.tables import UTCDateTime, tokens

__all__ = ["status_clause", "token_list"]

_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


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
    if query.status is TokenStatus.EXPIRED:
        return _expired(query)
    stmt = tokens.select().where(*_filters(query))
    if query.status is not None:
        stmt = stmt.where(status_clause(query.status, query.now))
    return _newest_first(stmt, tokens.c, query.limit)


def _expired(query: TokenQuery) -> sa.Select[Any]:
    """Expired tokens are the oldest ones: walking the newest-first index to find them would
    read most of the table, and fetching every expired row to sort them reads most of its
    pages. Instead each way of expiring (expiry; else the end of a rotation's grace) has an
    index of ``(time, created_at, id)`` over unrevoked tokens: the page's keys are sorted from
    those indexes alone (OFFSET 0 keeps the planner from turning each back into a walk), and
    only the page's rows are read. The expiry branch reads only the range :func:`_floor`
    bounds, so a page costs about the same however many tokens expired long ago."""
    c = tokens.c
    unrevoked = c.revoked_at.is_(None)
    expired = c.expires_at <= query.now
    not_expired = sa.or_(c.expires_at.is_(None), c.expires_at > query.now)
    branches = [
        _keys(query, unrevoked, expired, c.expires_at >= _floor(query, unrevoked, expired)),
        _keys(query, unrevoked, c.grace_until <= query.now, not_expired),  # disjoint
    ]
    keys = sa.union_all(*branches).subquery()
    page = _newest_first(sa.select(keys.c.id), keys.c, query.limit)
    return _newest_first(tokens.select().where(c.id.in_(page)), c, query.limit)


def _floor(query: TokenQuery, *expired: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    """A time no token of the page expired before: the oldest creation among the ``limit``
    tokens that expired last (the earliest time when fewer expired).

    Those ``limit`` tokens were all created at or after it, so the page's tokens, the newest
    created, were too; and a token expires after its creation (its expiry is set in the future
    when it is made, and never moved), so each of them expired at or after it. The expiry
    index then reads the tokens that expired since that time, not every token that ever did.
    """
    c = tokens.c
    last = (
        sa.select(c.created_at)
        .where(*expired, *_filters(query))
        .order_by(c.expires_at.desc())
        .limit(query.limit)
        .subquery()
    )
    oldest = (
        sa.select(sa.func.min(last.c.created_at))
        .having(sa.func.count() >= query.limit)
        .scalar_subquery()
    )
    return sa.func.coalesce(oldest, sa.bindparam(None, _EARLIEST, type_=UTCDateTime()))


def _keys(query: TokenQuery, *clauses: sa.ColumnElement[bool]) -> sa.Select[Any]:
    c = tokens.c
    fenced = sa.select(c.created_at, c.id).where(*clauses, *_filters(query)).offset(0).subquery()
    return sa.select(fenced.c.created_at, fenced.c.id)


def _newest_first(stmt: sa.Select[Any], c: Any, limit: int) -> sa.Select[Any]:
    return stmt.order_by(c.created_at.desc(), c.id.desc()).limit(limit)


def _filters(query: TokenQuery) -> list[sa.ColumnElement[bool]]:
    """Every filter of ``query`` but its status."""
    c = tokens.c
    clauses = []
    if query.user_id is not None:
        clauses.append(c.user_id == query.user_id)
    if query.kind is not None:
        clauses.append(c.kind == query.kind.value)
    if query.before is not None:
        created, token_id = query.before
        # Bound as the column's type: a cursor is compared as a stored time is, on every backend.
        after = sa.bindparam(None, created, type_=UTCDateTime())
        clauses.append(sa.tuple_(c.created_at, c.id) < sa.tuple_(after, token_id))
    return clauses
