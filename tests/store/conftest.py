"""The store every contract test runs on: memory, SQLite and PostgreSQL.

PostgreSQL is the session's schema of its own (``tw_test_<pid>``, see ``tests/conftest.py``),
emptied before each test, so parallel runs on one server never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import PostgresSchema, require_service, sqlite_copy
from tokenward.store import MemoryStore, SqlStore, Store

STORES = ["memory", "sqlite", "postgresql"]


@pytest.fixture(params=STORES)
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres_schema: PostgresSchema | None,
) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        sql = SqlStore(sqlite_copy(_sqlite_template, tmp_path))
    else:
        require_service("PostgreSQL (127.0.0.1:5432)", _postgres_schema is not None)
        assert _postgres_schema is not None
        _postgres_schema.empty()
        sql = SqlStore(_postgres_schema.url)
    yield sql
    sql.dispose()
