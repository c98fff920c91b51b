"""A fresh API for every example of the model test: its own empty database (a SQLite file, or
the PostgreSQL schema emptied), a runtime over it with a fake clock, and a client."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from model_driver import Api, ApiFactory
from starlette.testclient import TestClient

from backends import BACKENDS, PostgresSchema, require_service, sqlite_copy
from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock


@pytest.fixture(params=BACKENDS)
def fresh_api(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres_schema: PostgresSchema | None,
) -> ApiFactory:
    """``fresh_api()``: a new API over an empty migrated database, on the test's backend."""
    if request.param == "postgresql":
        require_service("PostgreSQL (127.0.0.1:5432)", _postgres_schema is not None)
    count = itertools.count()

    def database() -> str:
        if request.param == "sqlite":
            folder = tmp_path / f"example-{next(count)}"
            folder.mkdir()
            return sqlite_copy(_sqlite_template, folder)
        assert _postgres_schema is not None  # required above: never SQLite in its place
        _postgres_schema.empty()
        return _postgres_schema.url

    def build() -> Api:
        url = database()
        # Every limit off: the model sends dead credentials and leak reports on purpose.
        settings = Settings(
            database_url=url,
            failed_auth_per_minute=0,
            failed_logins_per_minute=0,
            leak_reports_per_minute=0,
            cookie_secure=False,
        )
        clock, store = FakeClock(), SqlStore(url)
        runtime = Runtime.build(
            settings, store=store, clock=clock, passwords=PasswordHasher.fast_for_tests()
        )
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        return Api(runtime, client.__enter__(), clock, store)

    return build
