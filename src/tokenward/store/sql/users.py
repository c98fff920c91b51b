"""Users and web sessions on SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tokenward.domain.errors import Conflict
from tokenward.domain.model import SessionRecord, TokenStatus, UserRecord, UserStatus
from tokenward.store.sql.rows import as_values, session_record, user_record
from tokenward.store.sql.tokens import status_clause
from tokenward.store.tables import sessions, tokens, users

__all__ = ["SqlSessions", "SqlUsers"]


class SqlUsers:
    """A :class:`~tokenward.store.repositories.UserRepository` inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, user: UserRecord) -> None:
        if self.by_name(user.username) is not None:
            raise Conflict(f"username {user.username!r} is taken")
        self.conn.execute(users.insert().values(**as_values(user)))

    def by_id(self, user_id: str) -> UserRecord | None:
        row = self.conn.execute(users.select().where(users.c.id == user_id)).first()
        return None if row is None else user_record(row)

    def by_name(self, username: str) -> UserRecord | None:
        row = self.conn.execute(users.select().where(users.c.username == username)).first()
        return None if row is None else user_record(row)

    def by_ids(self, ids: Collection[str]) -> list[UserRecord]:
        stmt = users.select().where(users.c.id.in_(sorted(ids)))
        return [user_record(row) for row in self.conn.execute(stmt)] if ids else []

    def count(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def count_active_admins(self) -> int:
        stmt = sa.select(sa.func.count()).where(
            users.c.is_admin.is_(True), users.c.status == UserStatus.ACTIVE.value
        )
        return int(self.conn.execute(stmt).scalar_one())

    def set_status(self, user_id: str, status: UserStatus) -> bool:
        c = users.c
        stmt = (
            users.update()
            .where(c.id == user_id, c.status != status.value)
            .values(status=status.value)
        )
        return bool(self.conn.execute(stmt).rowcount == 1)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        stmt = users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        self.conn.execute(stmt)

    def list(self, now: datetime) -> list[tuple[UserRecord, int]]:
        active = sa.and_(tokens.c.user_id == users.c.id, status_clause(TokenStatus.ACTIVE, now))
        count = sa.select(sa.func.count()).where(active).scalar_subquery()
        stmt = sa.select(*users.c, count.label("active_tokens")).order_by(users.c.username)
        return [(user_record(row), int(row.active_tokens)) for row in self.conn.execute(stmt)]

    def emails_of(self, user_ids: Collection[str]) -> dict[str, str]:
        if not user_ids:
            return {}
        c = users.c
        stmt = sa.select(c.id, c.email).where(c.id.in_(sorted(user_ids)), c.email.is_not(None))
        return {row.id: row.email for row in self.conn.execute(stmt)}


class SqlSessions:
    """A :class:`~tokenward.store.repositories.SessionRepository` inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, session: SessionRecord) -> None:
        self.conn.execute(sessions.insert().values(**as_values(session)))

    def by_ids(self, ids: Collection[str]) -> list[SessionRecord]:
        stmt = sessions.select().where(sessions.c.id.in_(sorted(ids)))
        return [session_record(row) for row in self.conn.execute(stmt)] if ids else []

    def live_of(self, user_id: str, now: datetime) -> list[SessionRecord]:
        c = sessions.c
        stmt = sessions.select().where(
            c.user_id == user_id, c.revoked_at.is_(None), c.expires_at > now
        )
        return [session_record(row) for row in self.conn.execute(stmt)]

    def end(self, session_id: str, at: datetime) -> bool:
        stmt = (
            sessions.update()
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(self.conn.execute(stmt).rowcount == 1)
