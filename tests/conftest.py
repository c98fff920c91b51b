"""Shared fixtures: a real SQLite file per test, a movable clock, an ASGI test client."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from backends import (
    BACKENDS,
    PostgresSchema,
    postgres_reachable,
    require_service,
    sqlite_copy,
)
from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock


def _our_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("tokenward-")}


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test() -> Iterator[None]:
    """Every background thread a test starts (event stream, follower, flusher, notifier) is
    stopped by its end: a leaked one would go on running through later tests."""
    before = _our_threads()
    yield
    deadline = time.monotonic() + 2
    while (left := _our_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left, f"threads left running: {sorted(thread.name for thread in left)}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated by the real migrations, copied for each test (copying a file
    is faster than running the migrations hundreds of times)."""
    path = tmp_path_factory.mktemp("template") / "tokenward.db"
    store = SqlStore(f"sqlite:///{path}")
    migrate.upgrade(store.writer)
    store.dispose()
    assert not path.with_name(path.name + "-wal").exists()  # all of it is in the file
    return path


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[PostgresSchema | None]:
    if not postgres_reachable():
        yield None
        return
    schema = PostgresSchema(f"tw_test_{os.getpid()}")
    schema.create()
    yield schema
    schema.drop()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres_schema: PostgresSchema | None,
) -> str:
    """A migrated, empty database of the test's own: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_copy(_sqlite_template, tmp_path)
    require_service("PostgreSQL (127.0.0.1:5432)", _postgres_schema is not None)
    assert _postgres_schema is not None
    _postgres_schema.empty()
    return _postgres_schema.url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings of the shared ``runtime`` beyond its defaults: a test module overrides this
    fixture to change them for all its tests."""
    return {}


@pytest.fixture
def runtime(
    database_url: str, clock: FakeClock, settings_overrides: dict[str, Any]
) -> Iterator[Runtime]:
    """Services over a migrated SQLite file in the test's own directory."""
    # Failure limits are off here (tests send many bad credentials on purpose); the tests of
    # the limits build their own runtime with them on.
    settings = Settings(
        database_url=database_url,
        failed_auth_per_minute=0,
        failed_logins_per_minute=0,
        **settings_overrides,
    )
    store = SqlStore(database_url)
    rt = Runtime.build(
        settings, store=store, clock=clock, passwords=PasswordHasher.fast_for_tests()
    )
    rt.migrate()
    yield rt
    store.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The HTTP API in process, over ``runtime``."""
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client
