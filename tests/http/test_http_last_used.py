"""Last use over HTTP: shown in the listings and ``/v1/self`` after a flush, never written per
request, and written at shutdown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from admin_support import admin_key, bearer
from starlette.testclient import TestClient

from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock, make_user

NOW = "2026-01-01T12:00:00.000Z"  # the FakeClock's start


@pytest.fixture
def token_writes(runtime: Runtime) -> Iterator[list[str]]:
    """Every statement that writes the tokens table, from now on."""
    assert isinstance(runtime.store, SqlStore)
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE TOKENS"):
            seen.append(statement)

    sa.event.listen(runtime.store.writer, "before_cursor_execute", listen)
    yield seen
    sa.event.remove(runtime.store.writer, "before_cursor_execute", listen)


def test_last_use_shows_in_the_listings_and_self_after_a_flush(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    me = bearer(alice_token.secret)
    assert client.get("/v1/self", headers=me).json()["last_used_at"] is None
    runtime.usage.flush()
    assert client.get("/v1/self", headers=me).json()["last_used_at"] == NOW
    (item,) = client.get("/v1/tokens", headers=me).json()["items"]
    assert (item["last_used_at"], item["last_used_from"]) == (NOW, "testclient")
    one = client.get(f"/v1/tokens/{alice_token.record.id}", headers=me).json()
    assert one["last_used_at"] == NOW
    root = make_user(runtime, "root", is_admin=True)
    key = bearer(admin_key(runtime, root).secret)
    listed = client.get("/v1/admin/tokens", headers=key).json()["items"]
    assert {t["id"]: t["last_used_at"] for t in listed}[alice_token.record.id] == NOW


def test_requests_write_nothing_until_the_flush(
    client: TestClient,
    runtime: Runtime,
    alice_token: CreatedToken,
    clock: FakeClock,
    token_writes: list[str],
) -> None:
    me = bearer(alice_token.secret)
    before = runtime.store.max_seq()
    for _ in range(30):
        clock.advance(seconds=1)
        assert client.get("/v1/self", headers=me).status_code == 200
    assert token_writes == []
    runtime.usage.flush()
    assert len(token_writes) == 1
    assert runtime.store.max_seq() == before  # never an event
    assert client.get("/v1/self", headers=me).json()["last_used_at"] == "2026-01-01T12:00:30.000Z"


def test_uses_pending_at_shutdown_are_written(runtime: Runtime, alice_token: CreatedToken) -> None:
    with TestClient(create_app(runtime)) as client:
        assert client.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200
    with runtime.store.transaction() as tx:  # the store itself, not this node's memory
        stored = tx.tokens.by_id(alice_token.record.id)
    assert stored is not None
    assert stored.last_used_at is not None and stored.last_used_from == "testclient"


def test_this_nodes_uses_show_in_the_lists_before_they_are_written(
    client: TestClient,
    runtime: Runtime,
    alice_token: CreatedToken,
    clock: FakeClock,
    token_writes: list[str],
) -> None:
    me = bearer(alice_token.secret)
    clock.advance(seconds=5)
    assert client.get("/v1/self", headers=me).status_code == 200
    (item,) = client.get("/v1/tokens", headers=me).json()["items"]
    assert (item["last_used_at"], item["last_used_from"]) == (
        "2026-01-01T12:00:05.000Z",
        "testclient",
    )
    one = client.get(f"/v1/tokens/{alice_token.record.id}", headers=me).json()
    assert one["last_used_at"] == "2026-01-01T12:00:05.000Z"
    assert token_writes == []  # shown from memory: nothing was written for it


def _writes(client: TestClient) -> float:
    local = TestClient(client.app, client=("127.0.0.1", 50000))  # /metrics: loopback only
    for line in local.get("/metrics").text.splitlines():
        if line.startswith("tokenward_store_writes_total "):
            return float(line.split()[1])
    raise AssertionError("no tokenward_store_writes_total on /metrics")


def test_metrics_count_store_writes_and_verified_requests_add_none(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    """The counter a load test reads: 200 requests authenticated with a token add almost
    nothing (a heartbeat of the node may land meanwhile; a write a request would add 200),
    and the batched last-use write moves it."""
    me = bearer(alice_token.secret)
    client.get("/v1/self", headers=me)  # the first use fills the cache
    before = _writes(client)
    for _ in range(200):
        assert client.get("/v1/self", headers=me).status_code == 200
    assert _writes(client) - before <= 3
    assert runtime.usage.flush() == 1
    assert _writes(client) > before
