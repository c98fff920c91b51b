"""The notifier's aggregates on SQL: webhook endpoints, deliveries and their dispatch cursor,
reminders sent, leases. What must happen once is guarded by a key or a compare-and-set."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tokenward.domain.model import TokenRecord
from tokenward.store.records import DeliveryRecord, DeliveryUpdate, WebhookRecord
from tokenward.store.sql.rows import delivery_record, token_record, webhook_record
from tokenward.store.tables import (
    deliveries,
    leases,
    notify_cursors,
    reminders_sent,
    tokens,
    webhooks,
)

__all__ = ["SqlDeliveries", "SqlLeases", "SqlReminders", "SqlWebhooks", "insert_once"]

_DISPATCH = "dispatch"


def insert_once(conn: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert the row unless its key is taken (then nothing, and False): a concurrent inserter
    of the same key waits for the first and finds it, without aborting the transaction."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    key = table.primary_key.columns.values()[0]
    stmt = insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return conn.execute(stmt).first() is not None  # (psycopg's rowcount says 1 either way)


class SqlWebhooks:
    """A :class:`~tokenward.store.repositories.WebhookRepository` inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, webhook: WebhookRecord) -> None:
        values = dataclasses.asdict(webhook) | {"events": list(webhook.events)}
        self.conn.execute(webhooks.insert().values(**values))

    def all(self) -> list[WebhookRecord]:
        stmt = webhooks.select().order_by(webhooks.c.created_at, webhooks.c.id)
        return [webhook_record(row) for row in self.conn.execute(stmt)]

    def by_id(self, webhook_id: str) -> WebhookRecord | None:
        row = self.conn.execute(webhooks.select().where(webhooks.c.id == webhook_id)).first()
        return None if row is None else webhook_record(row)

    def delete(self, webhook_id: str) -> bool:
        gone = self.conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))
        if not gone.rowcount:
            return False
        self.conn.execute(deliveries.delete().where(deliveries.c.target == webhook_id))
        return True


class SqlDeliveries:
    """A :class:`~tokenward.store.repositories.DeliveryRepository` inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def cursor(self) -> int:
        stmt = sa.select(notify_cursors.c.seq).where(notify_cursors.c.name == _DISPATCH)
        found = self.conn.execute(stmt).scalar()
        return 0 if found is None else int(found)

    def advance(self, old: int, new: int) -> bool:
        c = notify_cursors.c
        stmt = notify_cursors.update().where(c.name == _DISPATCH, c.seq == old).values(seq=new)
        if self.conn.execute(stmt).rowcount:
            return True
        return old == 0 and insert_once(self.conn, notify_cursors, {"name": _DISPATCH, "seq": new})

    def plan(self, planned: Sequence[DeliveryRecord]) -> None:
        if planned:
            self.conn.execute(deliveries.insert(), [dataclasses.asdict(d) for d in planned])

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        c = deliveries.c
        stmt = (
            deliveries.select()
            .where(c.status == "pending", c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.event_seq, c.id)
            .limit(limit)
        )
        return [delivery_record(row) for row in self.conn.execute(stmt)]

    def update(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        c = deliveries.c
        stmt = (
            deliveries.update()
            .where(
                c.id == delivery.id,
                c.status == delivery.status,
                c.attempts == delivery.attempts,
                c.next_attempt_at == delivery.next_attempt_at,
            )
            .values(**dataclasses.asdict(update))
        )
        return bool(self.conn.execute(stmt).rowcount)

    def of_target(self, target: str, limit: int) -> list[DeliveryRecord]:
        c = deliveries.c
        stmt = (
            deliveries.select()
            .where(c.target == target)
            .order_by(c.event_seq.desc(), c.id)
            .limit(limit)
        )
        return [delivery_record(row) for row in self.conn.execute(stmt)]


class SqlReminders:
    """A :class:`~tokenward.store.repositories.ReminderRepository`: the primary key of
    ``reminders_sent`` is the guarantee of one reminder a threshold a token."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def candidates(
        self, mark: str, expiring_after: datetime, expiring_by: datetime, limit: int
    ) -> list[TokenRecord]:
        c, sent_c = tokens.c, reminders_sent.c
        sent = sa.exists().where(sent_c.token_id == c.id, sent_c.mark == mark)
        stmt = (
            tokens.select()
            .where(
                c.revoked_at.is_(None),
                c.expires_at > expiring_after,
                c.expires_at <= expiring_by,
                ~sent,
            )
            .order_by(c.expires_at, c.id)
            .limit(limit)
        )
        return [token_record(row) for row in self.conn.execute(stmt)]

    def claim(self, token_id: str, mark: str, at: datetime) -> bool:
        values = {"token_id": token_id, "mark": mark, "sent_at": at, "event_seq": 0}
        return insert_once(self.conn, reminders_sent, values)

    def link(self, token_id: str, mark: str, seq: int) -> None:
        c = reminders_sent.c
        stmt = reminders_sent.update().where(c.token_id == token_id, c.mark == mark)
        self.conn.execute(stmt.values(event_seq=seq))


class SqlLeases:
    """A :class:`~tokenward.store.repositories.LeaseRepository` on one row a lease."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        c = leases.c
        # One conditional UPDATE: concurrent takers are serialised on the row (PostgreSQL
        # re-checks the WHERE after the other commits; SQLite writers are serial).
        taken = self.conn.execute(
            leases.update()
            .where(c.name == name, sa.or_(c.holder == holder, c.expires_at <= now))
            .values(holder=holder, expires_at=until)
        )
        if taken.rowcount:
            return True
        # No row yet: the first INSERT wins, the key turns the others away.
        return insert_once(self.conn, leases, {"name": name, "holder": holder, "expires_at": until})

    def release(self, name: str, holder: str) -> None:
        self.conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))
