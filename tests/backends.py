"""The real databases the suite runs on: a SQLite file, and PostgreSQL at 127.0.0.1:5432.

With ``CI=true`` a missing PostgreSQL fails the tests that need it; elsewhere they are skipped
and the skip names the service.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa

from tokenward.store import migrate
from tokenward.store.sql import SqlStore
from tokenward.store.tables import metadata

PG_DSN = os.environ.get("TOKENWARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]
_TABLES = ", ".join(t.name for t in metadata.sorted_tables)
_SCHEMAS = itertools.count()


def require_service(name: str, reachable: bool) -> None:
    """Skip (fail under CI) when a real service the test needs is not there."""
    if reachable:
        return
    message = f"{name} is not reachable; start it to run this test"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


class PostgresSchema:
    """A schema of its own in the test database, migrated once, emptied before each test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"{PG_DSN}?options={quote(f'-csearch_path={name}')}"

    def create(self) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")
            conn.execute(f"CREATE SCHEMA {self.name}")
        store = SqlStore(self.url)
        migrate.upgrade(store.writer)
        store.dispose()

    def empty(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")

    def drop(self) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")


@contextlib.contextmanager
def own_postgres_schema(prefix: str) -> Iterator[PostgresSchema]:
    """A migrated schema of the caller's own in PostgreSQL, dropped afterwards; without
    PostgreSQL the test is skipped (failed under CI), naming the service."""
    require_service("PostgreSQL (127.0.0.1:5432)", postgres_reachable())
    schema = PostgresSchema(f"{prefix}_{os.getpid()}_{next(_SCHEMAS)}")
    schema.create()
    try:
        yield schema
    finally:
        schema.drop()


def sqlite_copy(template: Path, folder: Path) -> str:
    """A migrated SQLite file of the test's own, copied from ``template``."""
    path = folder / "tokenward.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def stored_bytes(url: str) -> bytes:
    """Everything the database holds, as bytes: the files of SQLite (with the WAL), or every
    row of every table of PostgreSQL as text."""
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in sorted(database.parent.glob(database.name + "*")))
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = [
            conn.execute(sa.text(f"SELECT row_to_json(t)::text FROM {table.name} t")).scalars()  # noqa: S608 - our own table names
            for table in metadata.sorted_tables
        ]
        text = "\n".join(row for table_rows in rows for row in table_rows)
    engine.dispose()
    return text.encode()
