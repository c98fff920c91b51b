"""Times on PostgreSQL are ``timestamptz``: a session in another time zone than UTC pages
through tokens without skipping or repeating one, and a time stored before the migration
keeps its instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import psycopg
import pytest
from alembic import command

from backends import PG_DSN, PostgresSchema, own_postgres_schema
from tokenward.domain.model import TokenRecord, TokenStatus
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.sql import SqlStore
from tokenward.store.tables import UTCDateTime, metadata
from tokenward.testing import FakeClock, make_token, make_user

ZONE = "America/New_York"


@pytest.fixture
def schema() -> Iterator[PostgresSchema]:
    with own_postgres_schema("tw_zones") as made:
        yield made


def _in_zone(schema: PostgresSchema) -> str:
    return f"{PG_DSN}?options={quote(f'-csearch_path={schema.name} -cTimeZone={ZONE}')}"


@pytest.fixture
def runtime(schema: PostgresSchema) -> Iterator[Runtime]:
    url = _in_zone(schema)
    store = SqlStore(url)
    clock = FakeClock(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))  # across the end of DST
    settings = Settings(database_url=url, failed_auth_per_minute=0, failed_logins_per_minute=0)
    yield Runtime.build(
        settings, store=store, clock=clock, passwords=PasswordHasher.fast_for_tests()
    )
    store.dispose()


def _made(runtime: Runtime) -> list[str]:
    """Tokens an hour apart, and pairs made in the same instant (ordered by id)."""
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    alice, made = make_user(runtime), []
    for n in range(24):
        made.append(make_token(runtime, alice, f"t{n}").record.id)
        if n % 3 != 1:
            clock.advance(seconds=3600)
    return made


def _paged(runtime: Runtime, owner: str | None, status: TokenStatus | None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = runtime.tokens.list(owner, status=status, cursor=cursor, limit=4)
        seen += [t.id for t in page.items]
        if (cursor := page.next_cursor) is None:
            return seen


@pytest.mark.parametrize("status", [None, TokenStatus.ACTIVE])
def test_paging_off_utc_skips_and_repeats_nothing(runtime: Runtime, status: TokenStatus) -> None:
    assert isinstance(runtime.store, SqlStore)
    with runtime.store.reader.connect() as conn:
        assert conn.exec_driver_sql("SHOW TimeZone").scalar_one() == ZONE
    made = _made(runtime)
    records = [runtime.tokens.get(None, token_id) for token_id in made]
    newest_first = [r.id for r in sorted(records, key=_order, reverse=True)]
    owner = runtime.tokens.get(None, made[0]).user_id
    assert _paged(runtime, None, status) == newest_first
    assert _paged(runtime, owner, status) == newest_first


def _order(record: TokenRecord) -> tuple[datetime, str]:
    return record.created_at, record.id


def test_every_time_column_is_timestamptz(schema: PostgresSchema) -> None:
    with psycopg.connect(schema.url) as conn:
        for table in metadata.sorted_tables:
            for column in (c.name for c in table.c if isinstance(c.type, UTCDateTime)):
                found = conn.execute(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = %s AND column_name = %s",
                    (schema.name, table.name, column),
                ).fetchone()
                assert found == ("timestamp with time zone",), f"{table}.{column}"


def test_a_time_stored_before_the_migration_keeps_its_instant(schema: PostgresSchema) -> None:
    store = SqlStore(_in_zone(schema))
    config = migrate._config()
    with store.writer.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        conn.exec_driver_sql(
            "INSERT INTO users (id, username, password_hash, is_admin, status, created_at)"
            " VALUES ('usr_x', 'x', 'h', false, 'active', '2026-06-01 12:00:00')"
        )
    migrate.upgrade(store.writer)
    with store.transaction() as tx:
        user = tx.users.by_id("usr_x")
    store.dispose()
    assert user is not None
    assert user.created_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
