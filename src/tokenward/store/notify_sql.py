"""The notifier's storage on SQL (SQLite and PostgreSQL), beside the :class:`SqlStore`."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tokenward.domain.errors import Conflict, InvalidInput, StoreUnavailable
from tokenward.domain.model import Event, TokenRecord
from tokenward.store.notify_base import DeliveryRecord, DeliveryUpdate, WebhookRecord
from tokenward.store.notify_tables import (
    deliveries,
    leases,
    notify_cursors,
    reminders_sent,
    webhooks,
)
from tokenward.store.sql import SqlStore, fail_closed, token_record
from tokenward.store.tables import tokens, users

__all__ = ["SqlNotifyStore"]

_DISPATCH = "dispatch"


class SqlNotifyStore:
    """A :class:`~tokenward.store.notify_base.NotifyStore` sharing ``store``'s engines, so that
    a reminder and its event are written in one transaction."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        c = leases.c
        with fail_closed(), self.store.writer.begin() as conn:
            # One conditional UPDATE: concurrent takers are serialised on the row (PostgreSQL
            # re-checks the WHERE after the other commits; SQLite writers are serial).
            taken = conn.execute(
                leases.update()
                .where(c.name == name, sa.or_(c.holder == holder, c.expires_at <= now))
                .values(holder=holder, expires_at=until)
            )
            if taken.rowcount:
                return True
        try:  # no row yet: the first INSERT wins, the primary key refuses the others
            with fail_closed(), self.store.writer.begin() as conn:
                conn.execute(leases.insert().values(name=name, holder=holder, expires_at=until))
        except sa.exc.IntegrityError:
            return False
        return True

    def release_lease(self, name: str, holder: str) -> None:
        with fail_closed(), self.store.writer.begin() as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    def reminder_candidates(
        self, mark: str, expiring_after: datetime, expiring_by: datetime, limit: int
    ) -> list[TokenRecord]:
        c = tokens.c
        sent = sa.exists().where(reminders_sent.c.token_id == c.id, reminders_sent.c.mark == mark)
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
        with fail_closed(), self.store.reader.connect() as conn:
            return [token_record(row) for row in conn.execute(stmt)]

    def send_reminder(self, token_id: str, mark: str, at: datetime, event: Event | None) -> bool:
        try:
            with self.store.transaction() as tx:
                seq = 0 if event is None else tx.append_event(event)  # 0: skipped
                values = {"token_id": token_id, "mark": mark, "sent_at": at, "event_seq": seq}
                tx.conn.execute(reminders_sent.insert().values(**values))
        except Conflict:  # sent already (by another holder): the event went back with it
            return False
        return True

    def dispatch_cursor(self) -> int:
        stmt = sa.select(notify_cursors.c.seq).where(notify_cursors.c.name == _DISPATCH)
        with fail_closed(), self.store.reader.connect() as conn:
            found = conn.execute(stmt).scalar()
        return 0 if found is None else int(found)

    def advance_dispatch(self, old: int, new: int, planned: list[DeliveryRecord]) -> bool:
        c = notify_cursors.c
        try:
            with fail_closed(), self.store.writer.begin() as conn:
                moved = conn.execute(
                    notify_cursors.update().where(c.name == _DISPATCH, c.seq == old).values(seq=new)
                )
                if not moved.rowcount:
                    if old != 0:
                        raise _Moved()
                    conn.execute(notify_cursors.insert().values(name=_DISPATCH, seq=new))
                if planned:
                    conn.execute(deliveries.insert(), [dataclasses.asdict(d) for d in planned])
        except (_Moved, sa.exc.IntegrityError):
            return False
        return True

    def due_deliveries(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        c = deliveries.c
        stmt = (
            deliveries.select()
            .where(c.status == "pending", c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.event_seq, c.id)
            .limit(limit)
        )
        with fail_closed(), self.store.reader.connect() as conn:
            return [_delivery(row) for row in conn.execute(stmt)]

    def update_delivery(self, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
        c = deliveries.c
        with fail_closed(), self.store.writer.begin() as conn:
            done = conn.execute(
                deliveries.update()
                .where(
                    c.id == delivery.id,
                    c.status == delivery.status,
                    c.attempts == delivery.attempts,
                    c.next_attempt_at == delivery.next_attempt_at,
                )
                .values(**dataclasses.asdict(update))
            )
        return bool(done.rowcount)

    def add_webhook(self, webhook: WebhookRecord, event: Event) -> None:
        values = dataclasses.asdict(webhook) | {"events": list(webhook.events)}
        try:
            with self.store.transaction() as tx:
                tx.conn.execute(webhooks.insert().values(**values))
                tx.append_event(event)
        except sa.exc.StatementError:
            # SQLAlchemy's message quotes the parameters, the signing secret among them.
            raise RuntimeError("the webhook could not be stored") from None
        except (Conflict, InvalidInput, StoreUnavailable) as error:
            # The same message rides along as the cause: cut it, or a traceback prints it.
            raise error from None

    def webhooks(self) -> list[WebhookRecord]:
        stmt = webhooks.select().order_by(webhooks.c.created_at, webhooks.c.id)
        with fail_closed(), self.store.reader.connect() as conn:
            return [_webhook(row) for row in conn.execute(stmt)]

    def webhook_by_id(self, webhook_id: str) -> WebhookRecord | None:
        stmt = webhooks.select().where(webhooks.c.id == webhook_id)
        with fail_closed(), self.store.reader.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _webhook(row)

    def delete_webhook(self, webhook_id: str, event: Event) -> bool:
        with self.store.transaction() as tx:
            gone = tx.conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))
            if not gone.rowcount:
                return False
            tx.conn.execute(deliveries.delete().where(deliveries.c.target == webhook_id))
            tx.append_event(event)
        return True

    def deliveries_of(self, target: str, limit: int) -> list[DeliveryRecord]:
        c = deliveries.c
        stmt = (
            deliveries.select()
            .where(c.target == target)
            .order_by(c.event_seq.desc(), c.id)
            .limit(limit)
        )
        with fail_closed(), self.store.reader.connect() as conn:
            return [_delivery(row) for row in conn.execute(stmt)]

    def emails_of(self, user_ids: set[str]) -> dict[str, str]:
        if not user_ids:
            return {}
        c = users.c
        stmt = sa.select(c.id, c.email).where(c.id.in_(user_ids), c.email.is_not(None))
        with fail_closed(), self.store.reader.connect() as conn:
            return {row.id: row.email for row in conn.execute(stmt)}


class _Moved(Exception):
    """The cursor is not where this dispatcher read it: someone else dispatched."""


def _webhook(row: Any) -> WebhookRecord:
    return WebhookRecord(**{**row._mapping, "events": tuple(row.events)})


def _delivery(row: Any) -> DeliveryRecord:
    # The columns are the record's fields, by name: a column added alone fails here, loudly.
    return DeliveryRecord(**row._mapping)
