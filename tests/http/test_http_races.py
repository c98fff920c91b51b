"""Twenty concurrent ``DELETE /v1/tokens/{id}`` of one token, over two app instances on one
database (SQLite and PostgreSQL): every answer is the same 200, and the log holds one event
(issue 16: PostgreSQL gave 5-8 ``revoked_at`` values and 2-8 events)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx2
import pytest
from starlette.testclient import TestClient

from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.base import EventQuery
from tokenward.store.sql import SqlStore
from tokenward.testing import make_token, make_user

CALLS = 20


@pytest.fixture
def apps(database_url: str) -> Iterator[tuple[tuple[Runtime, TestClient], ...]]:
    """Two app instances (each its own runtime) on one database, on the real clock."""
    settings = Settings(
        database_url=database_url, failed_auth_per_minute=0, failed_logins_per_minute=0
    )
    with ExitStack() as stack:
        built = []
        for _ in range(2):
            rt = Runtime.build(
                settings, store=SqlStore(database_url), passwords=PasswordHasher.fast_for_tests()
            )
            rt.migrate()
            stack.callback(rt.close)
            client = stack.enter_context(TestClient(create_app(rt), raise_server_exceptions=False))
            built.append((rt, client))
        yield tuple(built)


def test_racing_revocations_over_two_nodes_answer_alike_with_one_event(
    apps: tuple[tuple[Runtime, TestClient], ...],
) -> None:
    rt = apps[0][0]
    alice = make_user(rt)
    caller, target = make_token(rt, alice, "caller"), make_token(rt, alice, "target").record
    headers = {"Authorization": f"Bearer {caller.secret}"}
    start = threading.Barrier(CALLS)

    def revoke(index: int) -> httpx2.Response:
        start.wait()
        return apps[index % 2][1].delete(f"/v1/tokens/{target.id}", headers=headers)

    with ThreadPoolExecutor(CALLS) as pool:
        answers = list(pool.map(revoke, range(CALLS)))
    assert [a.status_code for a in answers] == [200] * CALLS, answers[0].text
    bodies = {(a.json()["revoked_at"], a.json()["effective_by"]) for a in answers}
    assert len(bodies) == 1
    with rt.store.transaction() as tx:
        revoked = tx.events.query(EventQuery(type="token.revoked", subject=target.id))
    assert len(revoked) == 1
