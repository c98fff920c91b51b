"""The SQL store: SQLite by default, PostgreSQL for many nodes. Same code, same migrations."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Row

from tokenward.domain.errors import Conflict, InvalidInput
from tokenward.domain.model import Event, NodeRecord, SessionRecord, TokenRecord, UserRecord
from tokenward.store.records import LastUse
from tokenward.store.sql.engines import create_engines, fail_closed
from tokenward.store.sql.events import SqlEventLog, SqlPolicy, seq_param
from tokenward.store.sql.notices import SqlDeliveries, SqlLeases, SqlReminders, SqlWebhooks
from tokenward.store.sql.rows import (
    as_values,
    event_record,
    owner_record,
    session_record,
    token_record,
)
from tokenward.store.sql.tokens import SqlTokens
from tokenward.store.sql.users import SqlSessions, SqlUsers
from tokenward.store.tables import UTCDateTime, events, nodes, sessions, tokens, users

__all__ = ["SqlStore", "SqlTransaction"]

log = logging.getLogger("tokenward.store")

_WRITES = frozenset({"INSERT", "UPDATE", "DELETE"})


class SqlTransaction:
    """A :class:`~tokenward.store.base.StoreTransaction`: every repository on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tokens = SqlTokens(conn)
        self.users = SqlUsers(conn)
        self.sessions = SqlSessions(conn)
        self.events = SqlEventLog(conn)
        self.policy = SqlPolicy(conn)
        self.webhooks = SqlWebhooks(conn)
        self.deliveries = SqlDeliveries(conn)
        self.reminders = SqlReminders(conn)
        self.leases = SqlLeases(conn)


class SqlStore:
    """A :class:`~tokenward.store.base.Store` on SQLAlchemy Core."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.writer, self.reader = create_engines(url)
        self._listeners: list[Callable[[int], None]] = []
        self.writes = 0
        sa_event.listen(self.writer, "after_cursor_execute", self._count_write)
        # Built once: the verify path only binds the digest.
        owner = [col.label(f"owner_{col.name}") for col in users.c]
        self._principal_by_digest = (
            sa.select(*tokens.c, *owner)
            .select_from(tokens.join(users, tokens.c.user_id == users.c.id))
            .where(tokens.c.digest == sa.bindparam("digest"))
        )
        self._session_by_digest = (
            sa.select(*sessions.c, *owner)
            .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
            .where(sessions.c.digest == sa.bindparam("digest"))
        )

    def _count_write(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in _WRITES:
            self.writes += 1

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        try:
            with fail_closed(), self.writer.begin() as conn:
                tx = SqlTransaction(conn)
                yield tx
            if tx.events.last_seq:
                self._committed(tx.events.last_seq)
        # Neither refusal carries the database's error along: PostgreSQL's text quotes the
        # stored values (a digest, a webhook's signing secret), and tracebacks end up in logs.
        except sa.exc.IntegrityError:
            raise Conflict("the change clashes with stored data") from None
        except sa.exc.DataError:
            # A value the database cannot hold (PostgreSQL refuses NUL in text): the caller's
            # input, not our failure. The value itself is not echoed.
            raise InvalidInput("request", "contains a value the store cannot hold") from None

    def principal_by_digest(self, digest: str) -> tuple[TokenRecord, UserRecord] | None:
        row = self._read_one(self._principal_by_digest, {"digest": digest})
        return None if row is None else (token_record(row), owner_record(row))

    def session_by_digest(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        row = self._read_one(self._session_by_digest, {"digest": digest})
        return None if row is None else (session_record(row), owner_record(row))

    def _read_one(
        self, stmt: sa.Select[Any], params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        """One row on the read engine (no transaction: one statement is consistent on its
        own); an unreachable database fails closed."""
        with fail_closed(), self.reader.connect() as conn:
            return conn.execute(stmt, params).first()

    def events_after(self, seq: int, limit: int = 100) -> list[Event]:
        stmt = (
            events.select().where(events.c.seq > seq_param(seq)).order_by(events.c.seq).limit(limit)
        )
        with fail_closed(), self.reader.connect() as conn:
            return [event_record(row) for row in conn.execute(stmt)]

    def record_last_used(self, uses: Sequence[LastUse]) -> None:
        if not uses:
            return
        c, at = tokens.c, sa.bindparam("at", type_=UTCDateTime())
        # Keep a newer stored time: another node may have written a later use already.
        stmt = (
            tokens.update()
            .where(
                c.id == sa.bindparam("token_id"),
                sa.or_(c.last_used_at.is_(None), c.last_used_at < at),
            )
            .values(last_used_at=at, last_used_from=sa.bindparam("ip"))
        )
        rows = [{"token_id": u.token_id, "at": u.at, "ip": u.ip} for u in uses]
        with fail_closed(), self.writer.begin() as conn:
            conn.execute(stmt, rows)

    def report_node(self, node: NodeRecord) -> None:
        values = {"heartbeat_at": node.heartbeat_at, "applied_seq": node.applied_seq}
        with fail_closed(), self.writer.begin() as conn:
            updated = conn.execute(nodes.update().where(nodes.c.id == node.id).values(**values))
            if updated.rowcount == 0:
                conn.execute(nodes.insert().values(**as_values(node)))

    def nodes_seen_since(self, moment: datetime) -> list[NodeRecord]:
        stmt = nodes.select().where(nodes.c.heartbeat_at >= moment).order_by(nodes.c.id)
        with fail_closed(), self.reader.connect() as conn:
            return [
                NodeRecord(r.id, r.started_at, r.heartbeat_at, int(r.applied_seq))
                for r in conn.execute(stmt)
            ]

    def _committed(self, seq: int) -> None:
        # The change is committed: a listener that fails must not make it look as if it
        # were not (the followers' reads catch up within the bound anyway).
        for listener in self._listeners:
            try:
                listener(seq)
            except Exception:
                log.exception("a commit listener failed after event %d", seq)

    def max_seq(self) -> int:
        stmt = sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))
        row = self._read_one(stmt)
        return 0 if row is None else int(row[0])

    def on_commit(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    def ping(self) -> None:
        with fail_closed(), self.reader.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
