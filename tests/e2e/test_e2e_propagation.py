"""Revocation everywhere within the bound (P1), on real ``tokenward serve`` processes: three nodes
on one PostgreSQL schema (NOTIFY, and Redis), the bus lost, the database cut off, a node killed
in the middle of revoking, three workers on one SQLite file. In every test a checker keeps
verifying the tokens on every node and proves that none accepted a revoked token late."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.client import HTTPConnection
from pathlib import Path

import pytest
from checker import NO_ANSWER, Checker, Connect, Revocation, connector
from proxy import TcpProxy
from server import ADMIN_PASSWORD, Server, free_port
from services import (
    REDIS_SERVER,
    PostgresSchema,
    RedisServer,
    pinned_to,
    serving_process,
    worker_processes,
)

from backends import postgres_reachable, require_service
from tokenward.domain.model import EVENTS_CHANNEL as CHANNEL

pytestmark = pytest.mark.slow

STALENESS_MS = 500  # TOKENWARD_MAX_STALENESS_MS of every node here: half the default, for speed
BOUND = STALENESS_MS / 1000
PROPAGATED_WITHIN = 0.2  # seconds: a revocation reaches every node this fast while the bus works
RECOVERED_WITHIN = 5.0  # seconds: a node serves again after its database or bus came back
_schemas = itertools.count()

StartServer = Callable[..., Server]


def say(*parts: object) -> None:
    """Figures for the record (shown with ``pytest -s``)."""
    print("[propagation]", *parts)


@dataclasses.dataclass(frozen=True)
class Token:
    name: str
    id: str
    secret: str


@dataclasses.dataclass
class Cluster:
    """Nodes on one database, the admin's token, and the tokens made for the test."""

    nodes: dict[str, Server]
    admin: str

    @property
    def connectors(self) -> dict[str, Connect]:
        return {name: connector(node.port) for name, node in self.nodes.items()}

    def tokens(self, *names: str) -> dict[str, Token]:
        """A token for each of ``names``, made through the first node's API."""
        first = next(iter(self.nodes.values()))
        made = {}
        for name in names:
            body = json.dumps({"label": name, "scopes": []})
            reply = first.request("POST", "/v1/tokens", self.headers, body)
            assert reply.status == 201, reply.text
            made[name] = Token(name, reply.json()["id"], reply.json()["token"])
        return made

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}", "Content-Type": "application/json"}


def node_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "TOKENWARD_DATABASE_URL": database_url,
        "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TOKENWARD_MAX_STALENESS_MS": str(STALENESS_MS),
        "TOKENWARD_FAILED_AUTH_PER_MINUTE": "0",  # the checker sends revoked tokens all along
        **extra,
    }


def start_cluster(start_server: StartServer, env: Mapping[str, str], *names: str) -> Cluster:
    """Start the nodes together (they migrate one after another), then make an admin token."""
    nodes = {name: start_server(env, name, wait=False) for name in names}
    for node in nodes.values():
        node.wait_ready()
    scopes = ("--scope", "tokens:read", "--scope", "tokens:write")
    first = next(iter(nodes.values()))
    admin = first.cli("token", "create", "--user", "admin", "--label", "e2e admin", *scopes)
    return Cluster(nodes, admin.strip())


def warm(checker: Checker, tokens: Mapping[str, Token]) -> None:
    """Watch ``tokens`` and wait until every node has accepted each (so has it cached)."""
    since = time.monotonic()
    for token in tokens.values():
        checker.watch(token.name, token.secret)
    checker.wait_checked(tokens, since, status=200)


def refused_within(
    conns: Mapping[str, HTTPConnection], token: Token, since: float, within: float
) -> dict[str, float]:
    """Ask every node in turn (on connections opened beforehand) until each has answered 401
    for ``token``: the seconds from ``since`` to each node's first 401 (its arrival). Fails on
    any other answer, or on an accept of a request sent ``within`` seconds after ``since``."""
    delays: dict[str, float] = {}
    while len(delays) < len(conns):
        for name, conn in conns.items():
            if name in delays:
                continue
            sent = time.monotonic() - since
            conn.request("GET", "/v1/self", headers={"Authorization": f"Bearer {token.secret}"})
            response = conn.getresponse()
            response.read()
            if response.status == 401:
                delays[name] = time.monotonic() - since
                continue
            assert response.status == 200, f"{name}: {response.status} for {token.name}"
            assert sent < within, f"{name} still accepts {token.name} {sent:.3f}s after"
    return delays


def revoke_and_time(
    checker: Checker, cluster: Cluster, through: str, token: Token, within: float
) -> float:
    """Revoke through node ``through``; that node refuses at once, the others within
    ``within``. Returns the slowest node's delay (seconds after the revoke returned)."""
    with contextlib.ExitStack() as stack:
        conns = {}
        for name, connect in cluster.connectors.items():
            conns[name] = connect()
            stack.callback(conns[name].close)
            conns[name].connect()
        port = cluster.nodes[through].port
        revocation = checker.revoke(port, token.name, token.id, cluster.admin)
        assert revocation.status == 200, revocation.body
        assert revocation.body["status"] == "revoked"
        own = refused_within({through: conns.pop(through)}, token, revocation.returned, 0)
        delays = refused_within(conns, token, revocation.returned, within)
    return max([*own.values(), *delays.values()])


def summary(delays: list[float]) -> str:
    ms = sorted(d * 1000 for d in delays)
    return f"n={len(ms)} p50={statistics.median(ms):.1f}ms max={ms[-1]:.1f}ms"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def pg_schema() -> Iterator[PostgresSchema]:
    """A schema of the test's own in PostgreSQL's ``test`` database, dropped afterwards."""
    require_service("PostgreSQL (127.0.0.1:5432)", postgres_reachable())
    schema = PostgresSchema(f"tw_e2e_{os.getpid()}_{next(_schemas)}")
    schema.create()
    yield schema
    schema.drop()


@dataclasses.dataclass(frozen=True)
class Bus:
    """The bus the nodes use: NOTIFY (``redis`` is None), or a Redis server of the test's own."""

    redis: RedisServer | None

    @property
    def env(self) -> dict[str, str]:
        return {} if self.redis is None else {"TOKENWARD_BUS_URL": self.redis.url}


@pytest.fixture(params=["notify", "redis"])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    """PostgreSQL NOTIFY, or a Redis server started on a free loopback port (requested before
    the nodes, it is killed after them)."""
    if request.param == "notify":
        yield Bus(None)
        return
    require_service("redis-server (/usr/bin/redis-server)", Path(REDIS_SERVER).exists())
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield Bus(server)
    server.kill()


@pytest.fixture
def db_proxy() -> Iterator[TcpProxy]:
    """A TCP proxy to PostgreSQL that the test can cut; closed afterwards."""
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        yield proxy


# -- the tests ------------------------------------------------------------------------------


def test_a_token_revoked_through_one_node_is_refused_by_the_two_others_within_milliseconds(
    bus: Bus, pg_schema: PostgresSchema, start_server: StartServer
) -> None:
    cluster = start_cluster(start_server, node_env(pg_schema.url(), **bus.env), "A", "B", "C")
    tokens = cluster.tokens(*(f"t{i}" for i in range(6)))
    with Checker(cluster.connectors, BOUND) as checker:
        warm(checker, tokens)
        delays = [
            revoke_and_time(checker, cluster, "A", token, PROPAGATED_WITHIN)
            for token in tokens.values()
        ]
        checker.settle()
    checker.assert_revocations_honoured()
    assert checker.counts()[503] == 0  # the store was there all along
    name = "notify" if bus.redis is None else "redis"
    say(f"{name}: revoke returned -> B and C refuse:", summary(delays), dict(checker.counts()))


def test_revocations_stay_within_the_bound_while_the_bus_is_lost_and_the_bus_comes_back_alone(
    bus: Bus, pg_schema: PostgresSchema, start_server: StartServer
) -> None:
    """NOTIFY: ``pg_terminate_backend`` on every node's LISTEN connection; Redis: the server
    killed, and started again on its port later. Revocations made meanwhile are refused
    everywhere within the bound (the nodes read the log on their heartbeat); the nodes listen
    again by themselves, and revocations propagate within milliseconds again."""
    redis_server = bus.redis

    def listening() -> int:
        if redis_server is None:
            return pg_schema.listeners()
        return redis_server.subscribers(CHANNEL)

    cluster = start_cluster(start_server, node_env(pg_schema.url(), **bus.env), "A", "B", "C")
    tokens = cluster.tokens(
        "before", *(f"{phase}-{node}" for phase in ("gap", "after") for node in "ABC")
    )
    with Checker(cluster.connectors, BOUND) as checker:
        warm(checker, tokens)
        wait_for(lambda: listening() == 3, "the nodes never all listened")
        revoke_and_time(checker, cluster, "A", tokens["before"], PROPAGATED_WITHIN)

        if redis_server is None:
            assert pg_schema.kill_listeners() == 3
        else:
            redis_server.kill()
        lost_at = time.monotonic()
        gap = [
            revoke_and_time(checker, cluster, node, tokens[f"gap-{node}"], BOUND) for node in "ABC"
        ]
        if redis_server is not None:
            redis_server.start()
        resumed = wait_for(lambda: listening() == 3, "the bus never came back") - lost_at
        after = [
            revoke_and_time(checker, cluster, node, tokens[f"after-{node}"], PROPAGATED_WITHIN)
            for node in "ABC"
        ]
        checker.settle()
    checker.assert_revocations_honoured()
    fault = "listener connections killed" if redis_server is None else "redis restarted"
    say(
        f"{fault}: during the outage {summary(gap)}; listening again {resumed:.3f}s after the"
        f" loss; afterwards {summary(after)};",
        dict(checker.counts()),
    )


def wait_for(condition: Callable[[], bool], failure: str, within: float = 10.0) -> float:
    """Poll ``condition`` until true; return the monotonic time it was first seen true."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.01)
    return time.monotonic()


@pytest.mark.parametrize(
    "cut",
    [
        "refuse",
        "blackhole",  # the network eats packets: lookups must time out into 503
    ],
)
def test_database_cut_off_cached_tokens_get_503_once_the_bound_passes_and_service_resumes(
    cut: str, pg_schema: PostgresSchema, db_proxy: TcpProxy, start_server: StartServer
) -> None:
    """The nodes reach PostgreSQL through a proxy the test cuts (connections refused, or a
    black hole): a cached valid token is served until the bound passes, then gets 503 (never
    401); a revoked one never gets 200; /readyz is 503. Once the link is restored, every node
    serves again without a restart."""
    env = node_env(pg_schema.url(db_proxy.port))
    cluster = start_cluster(start_server, env, "A", "B", "C")
    tokens = cluster.tokens("valid", "revoked")
    pids = {name: node.process.pid for name, node in cluster.nodes.items()}
    with Checker(cluster.connectors, BOUND) as checker:
        warm(checker, tokens)
        revoke_and_time(checker, cluster, "A", tokens["revoked"], PROPAGATED_WITHIN)
        checker.wait_checked(["valid"], time.monotonic(), status=200)

        db_proxy.cut(cut)
        cut_at = time.monotonic()
        try:
            unavailable = {
                name: first_503(node, tokens["valid"], cut_at)
                for name, node in cluster.nodes.items()
            }
            checker.wait_checked(tokens, cut_at + BOUND, status=503)
            for name, node in cluster.nodes.items():
                ready = node.request("GET", "/readyz")
                assert ready.status == 503, (name, ready.text)
                assert ready.json()["reason"].startswith(("store unreachable", "propagation"))
        finally:
            restoring_at = time.monotonic()  # answers that came before were decided while cut
            db_proxy.restore()  # also when failing: nodes stuck on the database stop slowly
        restored_at = time.monotonic()
        recovered = {
            name: wait_for(
                _answers(node, tokens["valid"], 200),
                f"{name} never served again",
                RECOVERED_WITHIN,
            )
            - restored_at
            for name, node in cluster.nodes.items()
        }
        for name, node in cluster.nodes.items():
            assert status_of(node, tokens["revoked"]) == 401, name
            wait_for(
                _ready(node),
                f"{name} not ready",
                RECOVERED_WITHIN,
            )
        checker.wait_checked(tokens, time.monotonic())
    checker.assert_revocations_honoured()
    checker.assert_no_accept_after("valid", cut_at + BOUND, answered_before=restoring_at)
    during = [a for a in checker.answers() if cut_at < a.sent and a.received < restoring_at]
    assert {a.status for a in during if a.token == "valid"} <= {200, 503}
    assert {a.status for a in during if a.token == "revoked"} <= {401, 503}
    assert {name: node.process.pid for name, node in cluster.nodes.items()} == pids
    assert all(node.process.poll() is None for node in cluster.nodes.values())
    say(
        "database cut: first 503 after",
        {n: f"{t * 1000:.0f}ms" for n, t in unavailable.items()},
        "; served again after",
        {n: f"{t * 1000:.0f}ms" for n, t in recovered.items()},
        dict(checker.counts()),
    )


def _answers(node: Server, token: Token, status: int) -> Callable[[], bool]:
    return lambda: status_of(node, token) == status


def _ready(node: Server) -> Callable[[], bool]:
    return lambda: node.request("GET", "/readyz").status == 200


def status_of(node: Server, token: Token) -> int:
    return node.request("GET", "/v1/self", {"Authorization": f"Bearer {token.secret}"}).status


def first_503(node: Server, token: Token, since: float) -> float:
    """Seconds from ``since`` until ``node`` answered 503 for ``token``; fails if it answers
    anything but 200 or 503, or has not answered 503 by a second past the bound."""
    limit = BOUND + 1.0
    while True:
        conn = HTTPConnection("127.0.0.1", node.port, timeout=limit)
        try:
            conn.request("GET", "/v1/self", headers={"Authorization": f"Bearer {token.secret}"})
            response = conn.getresponse()
            response.read()
        except TimeoutError:
            raise AssertionError(f"no answer within {limit}s: neither 200 nor 503") from None
        finally:
            conn.close()
        elapsed = time.monotonic() - since
        if response.status == 503:
            return elapsed
        assert response.status == 200, response.status
        assert elapsed < limit, "cached token still served long past the bound"
        time.sleep(0.002)


def test_a_node_killed_in_the_middle_of_revoking_loses_no_committed_revocation(
    pg_schema: PostgresSchema, start_server: StartServer
) -> None:
    """Forty DELETEs in flight to node A when A gets SIGKILL: every revocation answered 200 is
    refused by B and C, every token the database holds as revoked is refused everywhere (and
    its event is in the log), every other token is still accepted."""
    cluster = start_cluster(start_server, node_env(pg_schema.url()), "A", "B", "C")
    tokens = cluster.tokens(*(f"t{i:02}" for i in range(40)))
    survivors = {n: c for n, c in cluster.connectors.items() if n != "A"}
    results: list[Revocation] = []
    with Checker(cluster.connectors, BOUND, pause=0.001) as checker:
        warm(checker, tokens)

        def revoke(token: Token) -> None:
            results.append(
                checker.revoke(cluster.nodes["A"].port, token.name, token.id, cluster.admin)
            )

        threads = [threading.Thread(target=revoke, args=(t,)) for t in tokens.values()]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(r.status == 200 for r in results) >= 3, "no revocation answered")
        cluster.nodes["A"].kill()
        for thread in threads:
            thread.join(timeout=15)

        revoked = {
            row[0] for row in pg_schema.query("SELECT id FROM tokens WHERE revoked_at IS NOT NULL")
        }
        logged = {
            row[0]
            for row in pg_schema.query("SELECT subject FROM events WHERE type = 'token.revoked'")
        }
        checked_at = time.monotonic()  # every commit A made happened before this read
        answered = {r.token for r in results if r.status == 200}
        by_name = {t.id: t.name for t in tokens.values()}
        for token_id in revoked:
            name = by_name[token_id]
            if name not in answered:
                checker.note(Revocation(name, checked_at, checked_at, NO_ANSWER, {}))
        checker.settle(nodes=survivors)
        for token in tokens.values():
            expected = 401 if token.id in revoked else 200
            for name, node in cluster.nodes.items():
                if name != "A":
                    assert status_of(node, token) == expected, (name, token.name)
    assert len(results) == len(tokens)
    assert revoked == logged  # a token revoked in the store has its event, and nothing else
    assert {tokens[name].id for name in answered} <= revoked
    unanswered = [r for r in results if r.status == NO_ANSWER]
    assert unanswered, "every revocation finished before the kill: nothing was in flight"
    checker.assert_revocations_honoured()
    say(
        f"SIGKILL: {len(answered)} answered 200, {len(unanswered)} cut off, of which"
        f" {len(revoked) - len(answered)} had committed;",
        dict(checker.counts()),
    )


def test_three_workers_on_one_sqlite_file_each_refuse_a_revoked_token_within_the_bound(
    tmp_path: Path, start_server: StartServer
) -> None:
    """``serve --workers 3`` on SQLite (the workers poll the log): each worker, reached on a
    connection it holds, refuses a token revoked through any of them within the bound; and a
    burst of fresh connections, spread over the workers by the kernel, gets 401 every time."""
    env = {
        "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TOKENWARD_MAX_STALENESS_MS": str(STALENESS_MS),
        "TOKENWARD_FAILED_AUTH_PER_MINUTE": "0",
    }
    server = start_server(env, "workers", args=["--workers", "3"])
    workers: list[int] = []

    def three_workers() -> bool:
        workers[:] = worker_processes(server.process.pid)
        return len(workers) == 3

    wait_for(three_workers, "serve --workers 3 did not start three workers")
    scopes = ("--scope", "tokens:read", "--scope", "tokens:write")
    admin = server.cli("token", "create", "--user", "admin", "--label", "e2e", *scopes).strip()
    cluster = Cluster({"server": server}, admin)
    tokens = cluster.tokens("t0", "t1", "t2")
    pinned = {f"worker {pid}": pinned_to(server.port, pid, workers) for pid in workers}
    delays: list[float] = []
    with Checker(pinned, BOUND) as checker, contextlib.ExitStack() as stack:
        warm(checker, tokens)
        probes = {name: connect() for name, connect in pinned.items()}
        for probe in probes.values():
            stack.callback(probe.close)
        for token in tokens.values():
            revocation = checker.revoke(server.port, token.name, token.id, admin)
            assert revocation.status == 200, revocation.body
            delays += refused_within(probes, token, revocation.returned, BOUND).values()
        checker.settle()
    checker.assert_revocations_honoured()
    served_by = []
    for token in tokens.values():
        for _ in range(10):
            conn = connector(server.port)()
            try:
                conn.request("GET", "/v1/self", headers={"Authorization": f"Bearer {token.secret}"})
                response = conn.getresponse()
                response.read()
                assert response.status == 401
                served_by.append(serving_process(conn, workers))
            finally:
                conn.close()
    say(
        "sqlite, 3 workers: revoke returned -> every worker refuses:",
        summary(delays),
        f"; fresh connections per worker {sorted(served_by.count(w) for w in workers)}",
        dict(checker.counts()),
    )
