"""Shared fixtures: a real SQLite file per test, a movable clock, an ASGI test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tokenward.db'}"


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """Services over a migrated SQLite file in the test's own directory."""
    # Failure limits are off here (tests send many bad credentials on purpose); the tests of
    # the limits build their own runtime with them on.
    settings = Settings(
        database_url=database_url, failed_auth_per_minute=0, failed_logins_per_minute=0
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
