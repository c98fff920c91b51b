"""Issue 7 on real ``tokenward serve`` nodes sharing one PostgreSQL schema: a leak report to one
node makes the other refuse the token within the bound, and a rotated token's old secret works
on both nodes during its grace and is refused on both after it (its reuse then reported)."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator

import pytest
from server import ADMIN_PASSWORD, Server
from services import PostgresSchema

from backends import postgres_reachable, require_service

pytestmark = pytest.mark.slow

STALENESS_MS = 500
BOUND = STALENESS_MS / 1000
GRACE = 3  # seconds: long enough to check both nodes inside it on a busy machine
_schemas = itertools.count()
StartServer = Callable[..., Server]


@pytest.fixture
def nodes(start_server: StartServer) -> Iterator[tuple[Server, Server, str, str]]:
    """Nodes A and B on a schema of their own; a user token (tokens:read/write) and an admin
    key (admin) of the admin's."""
    require_service("PostgreSQL (127.0.0.1:5432)", postgres_reachable())
    schema = PostgresSchema(f"tw_e2e_i7_{os.getpid()}_{next(_schemas)}")
    schema.create()
    env = {
        "TOKENWARD_DATABASE_URL": schema.url(),
        "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TOKENWARD_MAX_STALENESS_MS": str(STALENESS_MS),
        "TOKENWARD_FAILED_AUTH_PER_MINUTE": "0",
    }
    a, b = start_server(env, "A", wait=False), start_server(env, "B", wait=False)
    a.wait_ready()
    b.wait_ready()
    scopes = ("--scope", "tokens:read", "--scope", "tokens:write")
    user = a.cli("token", "create", "--user", "admin", "--label", "e2e", *scopes).strip()
    key = a.cli("key", "create", "--label", "e2e audit").strip()
    try:
        yield a, b, user, key
    finally:
        for node in (a, b):
            node.stop()
        schema.drop()


def _headers(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def _status(node: Server, secret: str) -> int:
    return node.request("GET", "/v1/self", _headers(secret)).status


def _make(node: Server, caller: str, label: str) -> dict[str, str]:
    body = json.dumps({"label": label, "scopes": []})
    reply = node.request("POST", "/v1/tokens", _headers(caller), body)
    assert reply.status == 201, reply.text
    made: dict[str, str] = reply.json()
    return made


def _refused_within(node: Server, secret: str, since: float, within: float) -> float:
    """Ask ``node`` until it answers 401; an accept of a request sent more than ``within``
    after ``since`` fails the test. Returns the delay of the first 401."""
    while True:
        sent = time.monotonic() - since
        status = _status(node, secret)
        if status == 401:
            return time.monotonic() - since
        assert status == 200, status
        assert sent < within, f"{node.name} still accepts {sent:.3f}s after"


def test_a_leak_reported_to_one_node_is_refused_by_the_other_within_the_bound(
    nodes: tuple[Server, Server, str, str],
) -> None:
    a, b, user, _ = nodes
    leaked = _make(a, user, "leaked")["token"]
    assert (_status(a, leaked), _status(b, leaked)) == (200, 200)  # both have it cached
    body = json.dumps({"tokens": [leaked, "garbage"], "source": "https://paste.example/x"})
    reply = a.request("POST", "/v1/leaks", {"Content-Type": "application/json"}, body)
    returned = time.monotonic()
    assert (reply.status, reply.json()) == (202, {"received": 2})
    assert _status(a, leaked) == 401  # the node that revoked refuses at once
    delay = _refused_within(b, leaked, returned, BOUND)
    print(f"[issue7] leak via A -> B refuses after {delay * 1000:.1f} ms")


def test_an_old_secret_works_on_both_nodes_during_its_grace_and_is_refused_after(
    nodes: tuple[Server, Server, str, str],
) -> None:
    a, b, user, key = nodes
    old = _make(a, user, "rotated")
    assert (_status(a, old["token"]), _status(b, old["token"])) == (200, 200)
    body = json.dumps({"grace_seconds": GRACE})
    reply = a.request("POST", f"/v1/tokens/{old['id']}/rotate", _headers(user), body)
    assert reply.status == 201, reply.text
    new = reply.json()["token"]
    time.sleep(BOUND)  # the rotation alone ends nothing
    assert (_status(a, old["token"]), _status(b, old["token"])) == (200, 200)
    assert _status(b, new) == 200  # the first use of the new secret starts the grace
    started = time.monotonic()
    assert (_status(a, old["token"]), _status(b, old["token"])) == (200, 200)
    assert time.monotonic() - started < GRACE, "the machine was too slow to check in time"
    for node in (a, b):
        _refused_within(node, old["token"], started, GRACE + BOUND)
    assert (_status(a, new), _status(b, new)) == (200, 200)

    audit = "/v1/admin/audit?type=token.reuse_detected&limit=10"
    deadline = time.monotonic() + 5
    while not (found := a.request("GET", audit, _headers(key)).json()["items"]):
        assert time.monotonic() < deadline, "no token.reuse_detected event"
        time.sleep(0.1)
    assert found[0]["subject"] == old["id"]
