"""The SQL store: SQLite by default, PostgreSQL for many nodes. Same code, same migrations."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine, Row

from tokenward.domain.errors import Conflict, InvalidInput, StoreUnavailable
from tokenward.domain.model import (
    EVENTS_CHANNEL,
    Event,
    NodeRecord,
    SessionRecord,
    TokenRecord,
    TokenStatus,
    UserRecord,
    UserStatus,
)
from tokenward.domain.tokens import TokenKind
from tokenward.store.base import Alarm, EventQuery, LastUse, Rotated, TokenQuery
from tokenward.store.tables import UTCDateTime, events, nodes, policy, sessions, tokens, users
from tokenward.store.token_lists import status_clause, token_list

__all__ = ["SqlStore", "create_engines", "fail_closed", "psycopg_dsn", "token_record"]

log = logging.getLogger("tokenward.store")

_EVENT_LOCK = 0x746B7764  # "tkwd": the advisory lock that orders event appends


def _normalise_url(url: str) -> str:
    # One driver for sync, async and LISTEN/NOTIFY: psycopg 3.
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def psycopg_dsn(url: str) -> str:
    """The libpq form of a PostgreSQL URL, for connections made outside SQLAlchemy."""
    return (
        sa.make_url(_normalise_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def _sqlite_pragmas(engine: Engine, *, immediate: bool) -> None:
    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if immediate:

        @sa_event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A writer takes the lock up front: a deferred transaction that reads and then
            # writes can fail with SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry.
            conn.exec_driver_sql("BEGIN IMMEDIATE")


# A database that stops answering (a partition, not a refusal) must turn into StoreUnavailable
# within about the bound, so that requests fail closed with 503 instead of hanging: bounded
# connection set-up, keepalives, and a limit on unacknowledged data (libpq parameters).
_PG_NETWORK = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": 1000,
}


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE"})


def create_engines(url: str) -> tuple[Engine, Engine]:
    """Return (writer, reader) engines for ``url``; the same engine twice where that is fine."""
    url = _normalise_url(url)
    if not url.startswith("sqlite"):
        engine = sa.create_engine(
            url, pool_pre_ping=True, connect_args=_PG_NETWORK, hide_parameters=True
        )
        return engine, engine
    # hide_parameters: a database error's text would otherwise quote the statement's values
    # (digests, a webhook's signing secret), and such errors end up in tracebacks and logs.
    writer, reader = (sa.create_engine(url, hide_parameters=True) for _ in range(2))
    _sqlite_pragmas(writer, immediate=True)
    _sqlite_pragmas(reader, immediate=False)
    return writer, reader


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        is_admin=bool(row.is_admin),
        status=UserStatus(row.status),
        created_at=row.created_at,
        email=row.email,
    )


def token_record(row: Row[Any]) -> TokenRecord:
    """A row of ``tokens`` as the record every store returns."""
    return TokenRecord(
        id=row.id,
        kind=TokenKind(row.kind),
        user_id=row.user_id,
        created_by=row.created_by,
        label=row.label,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        digest=row.digest,
        hint=row.hint,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
        last_used_at=row.last_used_at,
        last_used_from=row.last_used_from,
        rotated_from=row.rotated_from,
        rotated_to=row.rotated_to,
        rotated_at=row.rotated_at,
        grace_seconds=row.grace_seconds,
        grace_started_at=row.grace_started_at,
        grace_until=row.grace_until,
    )


def _event(row: Row[Any]) -> Event:
    return Event(
        seq=row.seq,
        at=row.at,
        type=row.type,
        actor=row.actor,
        subject=row.subject,
        ip=row.ip,
        details=dict(row.details),
        user_agent=row.user_agent,
        outcome=row.outcome,
    )


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        digest=row.digest,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ip=row.ip,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
    )


_ALARM_COLUMNS = {"dead_use": tokens.c.dead_use_reported_at, "reuse": tokens.c.reuse_reported_at}


class _SqlTransaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.last_seq = 0
        self.postgres = conn.dialect.name == "postgresql"

    def add_user(self, user: UserRecord) -> None:
        if self.user_by_name(user.username) is not None:
            raise Conflict(f"username {user.username!r} is taken")
        self.conn.execute(users.insert().values(**_asdict(user)))

    def user_by_id(self, user_id: str) -> UserRecord | None:
        row = self.conn.execute(users.select().where(users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def user_by_name(self, username: str) -> UserRecord | None:
        row = self.conn.execute(users.select().where(users.c.username == username)).first()
        return None if row is None else _user(row)

    def count_users(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def add_token(self, token: TokenRecord) -> None:
        values = _asdict(token)
        values["scopes"] = list(token.scopes)
        values["kind"] = token.kind.value
        self.conn.execute(tokens.insert().values(**values))

    def token_by_id(self, token_id: str) -> TokenRecord | None:
        row = self.conn.execute(tokens.select().where(tokens.c.id == token_id)).first()
        return None if row is None else token_record(row)

    def list_tokens(self, query: TokenQuery) -> list[TokenRecord]:
        return [token_record(row) for row in self.conn.execute(token_list(query))]

    def revoke_token(self, token_id: str, at: Any, by: str, reason: str) -> None:
        self.conn.execute(
            tokens.update()
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=by, revoke_reason=reason)
        )

    def append_event(self, event: Event) -> int:
        values = _asdict(event)
        del values["seq"]
        if self.postgres:
            # One appender at a time, so events commit in seq order: a follower reading
            # "seq > watermark" can never skip an event that commits late.
            self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_EVENT_LOCK)))
        seq = int(
            self.conn.execute(events.insert().values(**values).returning(events.c.seq)).scalar_one()
        )
        if self.postgres:  # delivered to listeners when, and only if, this transaction commits
            self.conn.execute(sa.select(sa.func.pg_notify(EVENTS_CHANNEL, str(seq))))
        self.last_seq = seq
        return seq

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

    def start_grace(self, token_id: str, at: Any, grace_until: Any) -> bool:
        c = tokens.c
        stmt = (
            tokens.update()
            .where(c.id == token_id, c.rotated_to.is_not(None), c.grace_started_at.is_(None))
            .values(grace_started_at=at, grace_until=grace_until)
        )
        return bool(self.conn.execute(stmt).rowcount == 1)

    def add_dead_uses(self, token_id: str, count: int, at: Any, ip: str | None) -> int:
        c = tokens.c
        self.conn.execute(
            tokens.update()
            .where(c.id == token_id)
            .values(dead_use_count=c.dead_use_count + count, dead_used_at=at, dead_used_from=ip)
        )
        total = self.conn.execute(sa.select(c.dead_use_count).where(c.id == token_id)).scalar()
        return int(total or 0)

    def claim_alarm(self, token_id: str, alarm: Alarm, at: Any, every: timedelta) -> bool:
        column = _ALARM_COLUMNS[alarm]
        # One conditional update: of two nodes asking at once, only one changes the row.
        stmt = (
            tokens.update()
            .where(tokens.c.id == token_id, sa.or_(column.is_(None), column <= at - every))
            .values({column.name: at})
        )
        return bool(self.conn.execute(stmt).rowcount == 1)

    def set_user_status(self, user_id: str, status: UserStatus) -> None:
        self.conn.execute(users.update().where(users.c.id == user_id).values(status=status.value))

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        stmt = users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        self.conn.execute(stmt)

    def list_users(self, now: Any) -> list[tuple[UserRecord, int]]:
        active = sa.and_(tokens.c.user_id == users.c.id, status_clause(TokenStatus.ACTIVE, now))
        count = sa.select(sa.func.count()).where(active).scalar_subquery()
        stmt = sa.select(*users.c, count.label("active_tokens")).order_by(users.c.username)
        return [(_user(row), int(row.active_tokens)) for row in self.conn.execute(stmt)]

    def count_active_admins(self) -> int:
        stmt = sa.select(sa.func.count()).where(
            users.c.is_admin.is_(True), users.c.status == UserStatus.ACTIVE.value
        )
        return int(self.conn.execute(stmt).scalar_one())

    def add_session(self, session: SessionRecord) -> None:
        self.conn.execute(sessions.insert().values(**_asdict(session)))

    def live_sessions_of(self, user_id: str, now: Any) -> list[SessionRecord]:
        c = sessions.c
        stmt = sessions.select().where(
            c.user_id == user_id, c.revoked_at.is_(None), c.expires_at > now
        )
        return [_session(row) for row in self.conn.execute(stmt)]

    def revoke_session(self, session_id: str, at: Any) -> None:
        self.conn.execute(
            sessions.update()
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def load_policy(self) -> dict[str, object] | None:
        row = self.conn.execute(sa.select(policy.c.document).where(policy.c.id == 1)).first()
        return None if row is None else dict(row.document)

    def save_policy(self, document: dict[str, object], at: Any) -> None:
        updated = self.conn.execute(
            policy.update().where(policy.c.id == 1).values(document=document, updated_at=at)
        )
        if updated.rowcount == 0:
            self.conn.execute(policy.insert().values(id=1, document=document, updated_at=at))

    def events(self, query: EventQuery) -> list[Event]:
        stmt = events.select().where(*event_filters(query))
        order = events.c.seq.desc() if query.newest_first else events.c.seq
        stmt = stmt.order_by(order).limit(query.limit)
        return [_event(row) for row in self.conn.execute(stmt)]

    def tokens_by_ids(self, ids: Collection[str]) -> list[TokenRecord]:
        stmt = tokens.select().where(tokens.c.id.in_(sorted(ids)))
        return [token_record(row) for row in self.conn.execute(stmt)] if ids else []

    def sessions_by_ids(self, ids: Collection[str]) -> list[SessionRecord]:
        stmt = sessions.select().where(sessions.c.id.in_(sorted(ids)))
        return [_session(row) for row in self.conn.execute(stmt)] if ids else []

    def users_by_ids(self, ids: Collection[str]) -> list[UserRecord]:
        stmt = users.select().where(users.c.id.in_(sorted(ids)))
        return [_user(row) for row in self.conn.execute(stmt)] if ids else []


def _seq(value: int) -> sa.BindParameter[int]:
    """A seq bound as a 64-bit integer: PostgreSQL compares it with the 32-bit column, so a
    number past the column's range finds nothing instead of failing."""
    return sa.bindparam(None, value, type_=sa.BigInteger)


def event_filters(query: EventQuery) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of ``query``: every one of them must hold."""
    c = events.c
    clauses = [c.seq > _seq(query.after)]
    for column, value in ((c.type, query.type), (c.subject, query.subject), (c.actor, query.actor)):
        if value is not None:
            clauses.append(column == value)
    if query.before is not None:
        clauses.append(c.seq < _seq(query.before))
    if query.since is not None:
        clauses.append(c.at >= query.since)
    if query.until is not None:
        clauses.append(c.at < query.until)
    return clauses


def _asdict(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


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
    def transaction(self) -> Iterator[_SqlTransaction]:
        try:
            with fail_closed(), self.writer.begin() as conn:
                tx = _SqlTransaction(conn)
                yield tx
            if tx.last_seq:
                self._committed(tx.last_seq)
        except sa.exc.IntegrityError as error:
            raise Conflict("the change clashes with stored data") from error
        except sa.exc.DataError as error:
            # A value the database cannot hold (PostgreSQL refuses NUL in text): the caller's
            # input, not our failure. The value itself is not echoed.
            raise InvalidInput("request", "contains a value the store cannot hold") from error

    def principal_by_digest(self, digest: str) -> tuple[TokenRecord, UserRecord] | None:
        row = self._read_one(self._principal_by_digest, {"digest": digest})
        return None if row is None else (token_record(row), _owner(row))

    def session_by_digest(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        row = self._read_one(self._session_by_digest, {"digest": digest})
        return None if row is None else (_session(row), _owner(row))

    def _read_one(
        self, stmt: sa.Select[Any], params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        """One row on the read engine (no transaction: one statement is consistent on its
        own); an unreachable database fails closed."""
        with fail_closed(), self.reader.connect() as conn:
            return conn.execute(stmt, params).first()

    def events_after(self, seq: int, limit: int = 100) -> list[Event]:
        stmt = events.select().where(events.c.seq > _seq(seq)).order_by(events.c.seq).limit(limit)
        with fail_closed(), self.reader.connect() as conn:
            return [_event(row) for row in conn.execute(stmt)]

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
                conn.execute(nodes.insert().values(**_asdict(node)))

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


@contextmanager
def fail_closed() -> Iterator[None]:
    """A database that cannot be reached is :class:`StoreUnavailable`, for every caller to
    answer 503 with, never a crash and never a fallback that allows."""
    try:
        yield
    except sa.exc.OperationalError as error:
        raise StoreUnavailable(type(error.orig).__name__) from error


def _owner(row: Row[Any]) -> UserRecord:
    """The owner's columns of a row joined with ``users`` (labelled ``owner_*``)."""
    return _user(SimpleNamespace(**{c.name: getattr(row, f"owner_{c.name}") for c in users.c}))
