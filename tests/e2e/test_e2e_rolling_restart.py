"""Three nodes on PostgreSQL behind the real nginx of ``deploy/nginx/tokenward.conf``,
restarted one after another under a steady load of verify requests: no request fails.

A stopping node (SIGTERM) closes its port at once, so nginx's next connection to it is
refused and retried on another node (``proxy_next_upstream``); requests it already holds
finish, its pending last uses are written, and it exits 0. The figures are printed (``-s``).
"""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from front import Front, exchange, front
from server import ADMIN_PASSWORD, Server, clean_env
from services import PostgresSchema

from backends import postgres_reachable, require_service

WORKERS = 4  # concurrent clients, each one request at a time: a bounded load
PAUSE = 0.005  # seconds between a client's requests
SETTLE = 1.5  # seconds of load before, between and after the restarts
JSON = {"Content-Type": "application/json"}
_schemas = itertools.count()


@dataclasses.dataclass
class Load:
    """Clients verifying tokens through nginx until stopped; every answer is tallied."""

    gate: Front
    valid: list[str]
    revoked: list[str]
    answers: Counter[tuple[str, int]] = dataclasses.field(default_factory=Counter)
    failures: list[str] = dataclasses.field(default_factory=list)
    latencies: list[float] = dataclasses.field(default_factory=list)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def run(self, worker: int) -> None:
        conn = self.gate.connect(f"127.0.0.{100 + worker}")
        tokens = itertools.cycle(
            [("valid", t) for t in self.valid] + [("revoked", t) for t in self.revoked]
        )
        while not self.stop.is_set():
            kind, secret = next(tokens)
            started = time.monotonic()
            try:
                reply = exchange(conn, "GET", "/v1/self", {"Authorization": f"Bearer {secret}"})
            except (OSError, http.client.HTTPException) as error:
                self._record(kind, None, f"{kind}: {error!r}", started)
                conn.close()
                conn = self.gate.connect(f"127.0.0.{100 + worker}")
                continue
            expected = 200 if kind == "valid" else 401
            failure = (
                None if reply.status == expected else f"{kind}: {reply.status} {reply.body[:200]!r}"
            )
            self._record(kind, reply.status, failure, started)
            time.sleep(PAUSE)
        conn.close()

    def _record(self, kind: str, status: int | None, failure: str | None, started: float) -> None:
        with self._lock:
            self.answers[(kind, status or 0)] += 1
            self.latencies.append(time.monotonic() - started)
            if failure is not None:
                self.failures.append(failure)

    def figures(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        p99 = ms[int(len(ms) * 0.99)]
        tally = ", ".join(
            f"{kind} {status}: {n}" for (kind, status), n in sorted(self.answers.items())
        )
        return (
            f"{len(ms)} requests ({tally}); failed {len(self.failures)}; latency p50 "
            f"{statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"
        )


@pytest.fixture
def schema() -> Iterator[PostgresSchema]:
    require_service("PostgreSQL (127.0.0.1:5432)", postgres_reachable())
    made = PostgresSchema(f"tw_rolling_{os.getpid()}_{next(_schemas)}")
    made.create()
    yield made
    made.drop()


def test_a_rolling_restart_of_three_nodes_behind_nginx_fails_no_request(
    schema: PostgresSchema, tmp_path: Path
) -> None:
    env = clean_env(
        {
            "TOKENWARD_DATABASE_URL": schema.url(),
            "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TOKENWARD_TRUSTED_PROXIES": "127.0.0.1",
            "TOKENWARD_FAILED_LOGINS_PER_MINUTE": "1",  # a name slows down at its 2nd failure
            "TOKENWARD_DRAIN_SECONDS": "10",
        }
    )
    nodes = [Server.start(tmp_path, env, f"node{i}") for i in range(3)]
    try:
        for node in nodes:
            node.wait_ready()
        with front(tmp_path / "front", [node.port for node in nodes]) as gate:
            _roll(nodes, gate, env, tmp_path)
    finally:
        for node in nodes:
            node.stop()


def _roll(nodes: list[Server], gate: Front, env: dict[str, str], folder: Path) -> None:
    admin = _session(nodes[0], "admin", ADMIN_PASSWORD)
    valid = [_new_token(nodes[0], admin, f"valid {n}") for n in range(3)]
    revoked = [_new_token(nodes[0], admin, f"revoked {n}") for n in range(3)]
    for token_id, _ in revoked:
        assert nodes[0].request("DELETE", f"/v1/tokens/{token_id}", admin).status == 200
    load = Load(gate, [s for _, s in valid], [s for _, s in revoked])
    clients = [threading.Thread(target=load.run, args=(n,)) for n in range(WORKERS)]
    for client in clients:
        client.start()
    restarts: list[str] = []
    try:
        time.sleep(SETTLE)
        for index, old in enumerate(nodes):
            nodes[index] = _restart(old, env, folder, f"node{index}-restarted", restarts)
            time.sleep(SETTLE)
    finally:
        load.stop.set()
        for client in clients:
            client.join(30)
    print(f"[rolling restart] {load.figures()}; {'; '.join(restarts)}")
    assert load.failures == [], load.failures[:10]
    assert {status for (kind, status) in load.answers if kind == "revoked"} == {401}
    assert load.answers[("valid", 200)] > 0
    # The stopped nodes wrote their pending last uses (the flush interval is a minute).
    listed = nodes[0].request("GET", "/v1/tokens", admin).json()["items"]
    used = {item["id"]: item["last_used_at"] for item in listed}
    assert all(used[token_id] is not None for token_id, _ in valid), used


def _restart(old: Server, env: dict[str, str], folder: Path, name: str, log: list[str]) -> Server:
    """SIGTERM ``old`` while a slow request is in flight on it; that request is answered, the
    node exits 0, and a new one starts on the same port."""
    slowed = _slow_login_in_flight(old)
    started = time.monotonic()
    old.process.terminate()
    old.process.wait(30)
    stopped = time.monotonic() - started
    slowed.join(10)
    assert old.process.returncode == 0, old.output[-2000:]
    assert slowed.status == 401, "the in-flight request was not answered"
    new = Server.start(folder, env, name, port=old.port)
    new.wait_ready()
    while new.request("GET", "/readyz").status != 200:
        time.sleep(0.05)
    log.append(f"{old.name}: stopped in {stopped:.2f}s, back in {time.monotonic() - started:.2f}s")
    return new


class _SlowLogin(threading.Thread):
    """A login that the node holds a second (its name has failed before: slowed down)."""

    def __init__(self, node: Server) -> None:
        super().__init__()
        self.node = node
        self.status = 0

    def run(self) -> None:
        body = json.dumps({"username": "ghost", "password": "not it"})
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.node.port, timeout=15, source_address=("127.0.0.2", 0)
        )
        try:
            self.status = exchange(conn, "POST", "/v1/session", JSON, body).status
        finally:
            conn.close()


def _slow_login_in_flight(node: Server) -> _SlowLogin:
    body = json.dumps({"username": "ghost", "password": "not it"})
    assert node.request("POST", "/v1/session", JSON, body).status in (401, 429)
    slowed = _SlowLogin(node)
    slowed.start()
    time.sleep(0.3)  # the request is in, waiting out its slow-down
    return slowed


def _session(node: Server, name: str, password: str) -> dict[str, str]:
    body = json.dumps({"username": name, "password": password})
    reply = node.request("POST", "/v1/session", JSON, body)
    assert reply.status == 200, reply.text
    cookie = reply.headers["set-cookie"].split(";")[0]
    return {**JSON, "Cookie": cookie, "X-CSRF-Token": reply.json()["csrf_token"]}


def _new_token(node: Server, session: dict[str, str], label: str) -> tuple[str, str]:
    reply = node.request("POST", "/v1/tokens", session, json.dumps({"label": label}))
    assert reply.status == 201, reply.text
    return reply.json()["id"], reply.json()["token"]
