"""The event log and the policy document on SQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tokenward.domain.model import EVENTS_CHANNEL, Event
from tokenward.store.records import EventQuery
from tokenward.store.sql.rows import as_values, event_record
from tokenward.store.tables import events, policy

__all__ = ["SqlEventLog", "SqlPolicy", "event_filters"]

_EVENT_LOCK = 0x746B7764  # "tkwd": the advisory lock that orders event appends


class SqlEventLog:
    """A :class:`~tokenward.store.repositories.EventLog` inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.last_seq = 0
        self.postgres = conn.dialect.name == "postgresql"

    def append(self, event: Event) -> int:
        values = as_values(event)
        del values["seq"]
        if self.postgres:
            # One appender at a time, so events commit in seq order: a follower reading
            # "seq > watermark" can never skip an event that commits late.
            self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_EVENT_LOCK)))
        stmt = events.insert().values(**values).returning(events.c.seq)
        seq = int(self.conn.execute(stmt).scalar_one())
        if self.postgres:  # delivered to listeners when, and only if, this transaction commits
            self.conn.execute(sa.select(sa.func.pg_notify(EVENTS_CHANNEL, str(seq))))
        self.last_seq = seq
        return seq

    def query(self, query: EventQuery) -> list[Event]:
        stmt = events.select().where(*event_filters(query))
        order = events.c.seq.desc() if query.newest_first else events.c.seq
        stmt = stmt.order_by(order).limit(query.limit)
        return [event_record(row) for row in self.conn.execute(stmt)]


def seq_param(value: int) -> sa.BindParameter[int]:
    """A seq bound as a 64-bit integer: PostgreSQL compares it with the 32-bit column, so a
    number past the column's range finds nothing instead of failing."""
    return sa.bindparam(None, value, type_=sa.BigInteger)


def event_filters(query: EventQuery) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of ``query``: every one of them must hold."""
    c = events.c
    clauses = [c.seq > seq_param(query.after)]
    for column, value in ((c.type, query.type), (c.subject, query.subject), (c.actor, query.actor)):
        if value is not None:
            clauses.append(column == value)
    if query.before is not None:
        clauses.append(c.seq < seq_param(query.before))
    if query.since is not None:
        clauses.append(c.at >= query.since)
    if query.until is not None:
        clauses.append(c.at < query.until)
    return clauses


class SqlPolicy:
    """A :class:`~tokenward.store.repositories.PolicyRepository`: one row, ``id = 1``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load(self) -> dict[str, object] | None:
        row = self.conn.execute(sa.select(policy.c.document).where(policy.c.id == 1)).first()
        return None if row is None else dict(row.document)

    def save(self, document: dict[str, object], at: datetime) -> None:
        updated = self.conn.execute(
            policy.update().where(policy.c.id == 1).values(document=document, updated_at=at)
        )
        if updated.rowcount == 0:
            self.conn.execute(policy.insert().values(id=1, document=document, updated_at=at))
