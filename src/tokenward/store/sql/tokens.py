"""Tokens on SQL: every change that must happen once is one conditional ``UPDATE``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tokenward.domain.model import TokenRecord
from tokenward.store.records import Alarm, Rotated, TokenQuery, check_new_token
from tokenward.store.sql.rows import as_values, token_record
from tokenward.store.sql.token_lists import status_clause, token_list
from tokenward.store.tables import tokens

__all__ = ["SqlTokens", "status_clause"]

_ALARM_COLUMNS = {"dead_use": tokens.c.dead_use_reported_at, "reuse": tokens.c.reuse_reported_at}


class SqlTokens:
    """A :class:`~tokenward.store.repositories.TokenRepository` inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, token: TokenRecord) -> None:
        check_new_token(token)
        values = as_values(token) | {"scopes": list(token.scopes), "kind": token.kind.value}
        self.conn.execute(tokens.insert().values(**values))

    def by_id(self, token_id: str) -> TokenRecord | None:
        row = self.conn.execute(tokens.select().where(tokens.c.id == token_id)).first()
        return None if row is None else token_record(row)

    def by_ids(self, ids: Collection[str]) -> list[TokenRecord]:
        stmt = tokens.select().where(tokens.c.id.in_(sorted(ids)))
        return [token_record(row) for row in self.conn.execute(stmt)] if ids else []

    def list(self, query: TokenQuery) -> list[TokenRecord]:
        return [token_record(row) for row in self.conn.execute(token_list(query))]

    def revoke(self, token_id: str, at: datetime, by: str, reason: str) -> TokenRecord | None:
        # PostgreSQL makes a concurrent writer wait for the row and re-check the WHERE once
        # the first commits: exactly one caller gets the row back.
        stmt = (
            tokens.update()
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=by, revoke_reason=reason)
            .returning(*tokens.c)
        )
        row = self.conn.execute(stmt).first()
        return None if row is None else token_record(row)

    def mark_rotated(self, token_id: str, rotation: Rotated) -> bool:
        c = tokens.c
        stmt = (
            tokens.update()
            .where(c.id == token_id, c.revoked_at.is_(None), c.rotated_to.is_(None))
            .values(
                rotated_to=rotation.rotated_to,
                rotated_at=rotation.at,
                grace_seconds=rotation.grace_seconds,
                grace_until=rotation.grace_until,
            )
        )
        return bool(self.conn.execute(stmt).rowcount == 1)

    def start_grace(self, token_id: str, at: datetime, grace_until: datetime) -> bool:
        c = tokens.c
        stmt = (
            tokens.update()
            .where(c.id == token_id, c.rotated_to.is_not(None), c.grace_started_at.is_(None))
            .values(grace_started_at=at, grace_until=grace_until)
        )
        return bool(self.conn.execute(stmt).rowcount == 1)

    def add_dead_uses(self, token_id: str, count: int, at: datetime, ip: str | None) -> int:
        c = tokens.c
        stmt = (
            tokens.update()
            .where(c.id == token_id)
            .values(dead_use_count=c.dead_use_count + count, dead_used_at=at, dead_used_from=ip)
            .returning(c.dead_use_count)
        )
        return int(self.conn.execute(stmt).scalar() or 0)

    def claim_alarm(self, token_id: str, alarm: Alarm, at: datetime, every: timedelta) -> bool:
        column = _ALARM_COLUMNS[alarm]
        # One conditional update: of two nodes asking at once, only one changes the row.
        stmt = (
            tokens.update()
            .where(tokens.c.id == token_id, sa.or_(column.is_(None), column <= at - every))
            .values({column.name: at})
        )
        return bool(self.conn.execute(stmt).rowcount == 1)
