"""Engines for SQLite and PostgreSQL, and the rule that an unreachable database fails closed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine

from tokenward.domain.errors import StoreUnavailable

__all__ = ["create_engines", "fail_closed", "normalise_url", "psycopg_dsn"]


def normalise_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named: one driver for sync, async and LISTEN/NOTIFY."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def psycopg_dsn(url: str) -> str:
    """The libpq form of a PostgreSQL URL, for connections made outside SQLAlchemy."""
    return (
        sa.make_url(normalise_url(url))
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


def create_engines(url: str) -> tuple[Engine, Engine]:
    """Return (writer, reader) engines for ``url``; the same engine twice where that is fine."""
    url = normalise_url(url)
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


@contextmanager
def fail_closed() -> Iterator[None]:
    """A database that cannot be reached is :class:`StoreUnavailable`, for every caller to
    answer 503 with, never a crash and never a fallback that allows."""
    try:
        yield
    except sa.exc.OperationalError as error:
        raise StoreUnavailable(type(error.orig).__name__) from error
