"""Helpers for the HTTP tests, as fixtures: problem checks, spies and snapshots of the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from tokenward.domain import tokens as token_format
from tokenward.domain.model import UserRecord
from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock, make_token, make_user

PROBLEM_KEYS = {"type", "title", "status", "detail"}

ProblemCheck = Callable[..., dict[str, Any]]


def _check_problem(
    response: httpx2.Response, status: int, *, error: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert all(isinstance(body[key], str) and body[key] for key in ("type", "title", "detail"))
    assert body.get("error") == error
    return body


@pytest.fixture
def problem() -> ProblemCheck:
    """``problem(response, status, error=None)``: assert an RFC 9457 body and return it.

    ``error`` is the RFC 6750 code the body must carry, or ``None`` for a body without one.
    """
    return _check_problem


@pytest.fixture
def alice(runtime: Runtime) -> UserRecord:
    return make_user(runtime, "alice")


@pytest.fixture
def alice_token(runtime: Runtime, alice: UserRecord) -> CreatedToken:
    """A token of alice's with ``tokens:read`` and ``tokens:write``, 90 days (the default)."""
    return make_token(runtime, alice, "alice's laptop")


@pytest.fixture
def db_rows(runtime: Runtime) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    """Every row of every table, read from the database: equal snapshots, nothing changed.
    (Not ``nodes``: running nodes report their heartbeat there whatever the requests do.)"""
    store = runtime.store
    assert isinstance(store, SqlStore)

    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with store.reader.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                name: sorted(
                    (
                        tuple(row)
                        for row in conn.execute(sa.select("*").select_from(sa.table(name)))
                    ),
                    key=repr,
                )
                for name in names
                if name != "nodes"
            }

    return snapshot


@pytest.fixture
def lookups(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of secret hashing (``digest``) and store lookups (``lookup``) from now on.

    A spy: the real functions still run.
    """
    calls: Counter[str] = Counter()
    real_digest = token_format.digest
    real_lookup = runtime.store.principal_by_digest

    def digest(token: str) -> str:
        calls["digest"] += 1
        return real_digest(token)

    def lookup(value: str) -> Any:
        calls["lookup"] += 1
        return real_lookup(value)

    monkeypatch.setattr(token_format, "digest", digest)
    monkeypatch.setattr(runtime.store, "principal_by_digest", lookup)
    return calls


@pytest.fixture
def app_over(
    tmp_path: Path, clock: FakeClock
) -> Iterator[Callable[..., tuple[Runtime, TestClient]]]:
    """``app_over(**settings)``: a runtime and a client over a fresh migrated SQLite file, for
    tests that need settings other than the defaults (policy, access log)."""
    stores: list[SqlStore] = []
    clients: list[TestClient] = []

    def build(**overrides: Any) -> tuple[Runtime, TestClient]:
        url = f"sqlite:///{tmp_path / f'custom-{len(stores)}.db'}"
        store = SqlStore(url)
        stores.append(store)
        # Failure limits off, as in the shared ``runtime``: these tests fail on purpose.
        settings = {"failed_auth_per_minute": 0, "failed_logins_per_minute": 0, **overrides}
        rt = Runtime.build(
            Settings(database_url=url, **settings),
            store=store,
            clock=clock,
            passwords=PasswordHasher.fast_for_tests(),
        )
        rt.migrate()
        client = TestClient(create_app(rt), raise_server_exceptions=False)
        clients.append(client.__enter__())
        return rt, client

    yield build
    for client in clients:
        client.__exit__(None, None, None)
    for store in stores:
        store.dispose()
