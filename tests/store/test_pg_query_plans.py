"""On PostgreSQL with 50,000 tokens and 50,000 events, every list and audit query the store
issues is planned on an index: no sequential scan of ``tokens`` or ``events``, and no index
walk that reads and discards a large part of the table (expired tokens are the oldest ones).

The planner is left free (no ``enable_seqscan = off``): with this many rows, analysed, a
query without a usable index is planned as a Seq Scan and the test fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import bulk_rows
import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from backends import own_postgres_schema
from tokenward.domain.model import TokenStatus
from tokenward.domain.tokens import TokenKind
from tokenward.store import SqlStore
from tokenward.store.base import EventQuery, TokenQuery

ROWS = 50_000
Read = Callable[[Any], object]


@pytest.fixture(scope="module")
def store() -> Iterator[SqlStore]:
    with own_postgres_schema("tw_plans") as schema:
        bulk_rows.load(schema.url, tokens=ROWS, events=ROWS)
        sql = SqlStore(schema.url)
        yield sql
        sql.dispose()


def _tokens(**fields: Any) -> Read:
    query = TokenQuery(fields.pop("user_id", None), bulk_rows.NOW, limit=51, **fields)
    return lambda tx: tx.tokens.list(query)


def _events(**fields: Any) -> Read:
    query = EventQuery(**fields)
    return lambda tx: tx.events.query(query)


CURSOR = (bulk_rows.NOW - timedelta(days=3), bulk_rows.token_id(ROWS // 2))
READS = {
    "admin list": _tokens(),
    "admin list, next page": _tokens(before=CURSOR),
    "admin list ?user=": _tokens(user_id=bulk_rows.user_id(7)),
    "admin list ?status=active": _tokens(status=TokenStatus.ACTIVE),
    "admin list ?status=expired": _tokens(status=TokenStatus.EXPIRED),
    "admin list ?status=revoked": _tokens(status=TokenStatus.REVOKED),
    "admin list ?status=revoked, next page": _tokens(status=TokenStatus.REVOKED, before=CURSOR),
    "admin list ?kind=a": _tokens(kind=TokenKind.ADMIN),
    "admin list ?kind=a&status=active": _tokens(kind=TokenKind.ADMIN, status=TokenStatus.ACTIVE),
    "GET /v1/tokens": _tokens(user_id=bulk_rows.user_id(7)),
    "GET /v1/tokens ?status=expired": _tokens(
        user_id=bulk_rows.user_id(7), status=TokenStatus.EXPIRED
    ),
    "audit": _events(),
    "audit ?after=": _events(after=ROWS - 300),
    "audit ?type= (common)": _events(type="token.revoked"),
    "audit ?type= (rare)": _events(type=bulk_rows.RARE_TYPE),
    "audit ?type= (absent)": _events(type="token.never"),
    "audit ?type=&after=": _events(type="token.created", after=ROWS // 2),
    "audit ?subject=": _events(subject=bulk_rows.token_id(1234)),
    "audit ?actor=": _events(actor="user7"),
    "audit newest first ?type=": _events(type=bulk_rows.RARE_TYPE, newest_first=True),
    "audit newest first ?actor=&before=": _events(actor="user7", before=ROWS // 2),
}


@pytest.mark.parametrize("name", READS)
def test_the_query_is_planned_on_an_index(store: SqlStore, name: str) -> None:
    statements = _issued(store, READS[name])
    assert statements, "the store issued no query"
    with store.reader.connect() as conn:
        for statement, parameters in statements:
            explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
            plan = conn.exec_driver_sql(explain, parameters).scalar_one()[0]["Plan"]
            assert list(_seq_scans(plan)) == [], f"{name}: sequential scan in\n{statement}"
            assert _discarded(plan) < ROWS // 20, f"{name}: rows read in vain\n{plan}"


def test_a_table_without_the_index_is_scanned_sequentially(store: SqlStore) -> None:
    """The check above can fail: the same query, its index hidden in a rolled-back
    transaction, is a Seq Scan."""
    statements = _issued(store, READS["admin list ?kind=a"])
    with store.writer.connect() as conn, conn.begin() as tx:
        conn.exec_driver_sql("DROP INDEX ix_tokens_kind_created")
        conn.exec_driver_sql("DROP INDEX ix_tokens_created")
        statement, parameters = statements[0]
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        assert list(_seq_scans(plan.scalar_one()[0]["Plan"])) == ["tokens"]
        tx.rollback()


def _issued(store: SqlStore, read: Read) -> list[tuple[str, Any]]:
    """The SELECTs the store sent to the database for ``read``, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa_event.listen(store.writer, "before_cursor_execute", capture)
    try:
        with store.transaction() as tx:
            read(tx)
    finally:
        sa_event.remove(store.writer, "before_cursor_execute", capture)
    return seen


def _seq_scans(node: dict[str, Any]) -> Iterator[str]:
    if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in {"tokens", "events"}:
        yield node["Relation Name"]
    for child in node.get("Plans", []):
        yield from _seq_scans(child)


def _discarded(node: dict[str, Any]) -> int:
    own = node.get("Rows Removed by Filter", 0) * node.get("Actual Loops", 1)
    return int(own) + sum(_discarded(child) for child in node.get("Plans", []))


@pytest.mark.parametrize("user", [None, bulk_rows.user_id(8)])
def test_expired_pages_hold_every_expired_token_newest_first(
    store: SqlStore, user: str | None
) -> None:
    """The expired list's own query (sorted from the expiry indexes) pages through exactly
    the tokens that are expired, by expiry or by the end of a rotation's grace."""
    with store.reader.connect() as conn:
        expected = (
            conn.exec_driver_sql(
                "SELECT id FROM tokens WHERE revoked_at IS NULL"
                " AND (expires_at <= %(now)s OR grace_until <= %(now)s)"
                " AND (%(user)s::text IS NULL OR user_id = %(user)s)"
                " ORDER BY created_at DESC, id DESC",
                {"now": bulk_rows.NOW, "user": user},
            )
            .scalars()
            .all()
        )
    assert len(expected) > 30
    assert _paged_expired(store, user) == expected


def _paged_expired(store: SqlStore, user: str | None) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        query = TokenQuery(user, bulk_rows.NOW, TokenStatus.EXPIRED, before, limit=97)
        with store.transaction() as tx:
            page = tx.tokens.list(query)
        seen += [t.id for t in page]
        if len(page) < query.limit:
            return seen
        before = (page[-1].created_at, page[-1].id)


def test_the_rows_are_there(store: SqlStore) -> None:
    with store.reader.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM tokens")).scalar_one()
    assert count == ROWS


def test_an_expired_page_reads_the_tokens_that_expired_lately_not_all_that_ever_did() -> None:
    """Tokens made an hour apart over two years, a quarter of them for 30 days: thousands have
    expired. A page of them reads the expiry index only from the oldest creation among the
    page's worth that expired last; before, it read every expired token to sort them."""
    with own_postgres_schema("tw_expired") as schema:
        bulk_rows.load(schema.url, tokens=20_000, events=0, apart=timedelta(hours=1))
        sql = SqlStore(schema.url)
        try:
            query = TokenQuery(None, bulk_rows.NOW, TokenStatus.EXPIRED, limit=51)
            with sql.reader.connect() as conn:
                expired = conn.exec_driver_sql(
                    "SELECT count(*) FROM tokens WHERE revoked_at IS NULL"
                    " AND expires_at <= %(now)s",
                    {"now": bulk_rows.NOW},
                ).scalar_one()
                newest = (
                    conn.exec_driver_sql(
                        "SELECT id FROM tokens WHERE revoked_at IS NULL"
                        " AND (expires_at <= %(now)s OR grace_until <= %(now)s)"
                        " ORDER BY created_at DESC, id DESC LIMIT 51",
                        {"now": bulk_rows.NOW},
                    )
                    .scalars()
                    .all()
                )
                (statement, parameters), *_ = _issued(sql, lambda tx: tx.tokens.list(query))
                explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
                plan = conn.exec_driver_sql(explain, parameters).scalar_one()[0]["Plan"]
            with sql.transaction() as tx:
                page = tx.tokens.list(query)
        finally:
            sql.dispose()
    assert expired > 4000
    assert [token.id for token in page] == newest
    read = _index_rows(plan, {"ix_tokens_expired", "ix_tokens_expires_at"})  # either serves
    assert 51 <= read < expired // 10, (read, expired)


def _index_rows(node: dict[str, Any], indexes: set[str]) -> int:
    """Rows the scans of ``indexes`` returned in an analysed plan, every loop counted."""
    scanned = node.get("Index Name") in indexes
    own = node["Actual Rows"] * node.get("Actual Loops", 1) if scanned else 0
    return int(own) + sum(_index_rows(child, indexes) for child in node.get("Plans", []))
