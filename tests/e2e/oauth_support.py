"""Two real ``tokenward serve`` nodes on one SQLite file, an OAuth client key, and the tokens the
OAuth client tests introspect and revoke: made through the API, or expired through the service
on a clock moved back (a real token in the real store, whose lifetime has run out)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server import ADMIN_PASSWORD, Server, clean_env

from tokenward.domain.scopes import ADMIN, INTROSPECT
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import TEST_ACTOR, FakeClock, make_token

STALENESS_MS = 500  # every node's TOKENWARD_MAX_STALENESS_MS: the bound of these tests
BOUND = STALENESS_MS / 1000


@dataclasses.dataclass(frozen=True)
class Credential:
    id: str
    secret: str


@dataclasses.dataclass
class Nodes:
    """Nodes ``A`` and ``B`` on one database; the admin's key (scope ``admin``) and a token of
    the admin's (``tokens:write``) to make more through the API."""

    a: Server
    b: Server
    admin_key: str
    admin_token: str
    database_url: str

    def url(self, path: str, node: Server | None = None) -> str:
        return f"http://127.0.0.1:{(node or self.a).port}{path}"

    def post(self, path: str, body: Mapping[str, object], caller: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {caller}", "Content-Type": "application/json"}
        reply = self.a.request("POST", path, headers, json.dumps(body))
        assert reply.status == 201, reply.text
        found: dict[str, str] = reply.json()
        return found

    def client_key(self, label: str = "resource server") -> Credential:
        """An admin key with scope ``introspect``: an OAuth client (id ``tok_…``, the key)."""
        body = {"label": label, "scopes": ["introspect"]}
        made = self.post("/v1/admin/keys", body, self.admin_key)
        return Credential(made["id"], made["token"])

    def token(self, label: str = "user token") -> Credential:
        body = {"label": label, "scopes": ["tokens:read"]}
        made = self.post("/v1/tokens", body, self.admin_token)
        return Credential(made["id"], made["token"])

    def expired_token(self) -> str:
        """A token made two days ago with a one-day lifetime, through the service itself."""
        clock = FakeClock(datetime.now(UTC) - timedelta(days=2))
        store = SqlStore(self.database_url)
        try:
            runtime = Runtime.build(
                Settings(database_url=self.database_url), store=store, clock=clock
            )
            admin = runtime.accounts.by_name("admin")
            return make_token(runtime, admin, "expired", expires_in_days=1).secret
        finally:
            store.dispose()

    @staticmethod
    def unknown_token() -> str:
        return generate(TokenKind.USER)

    def status_of(self, node: Server, secret: str) -> int:
        return node.request("GET", "/v1/self", {"Authorization": f"Bearer {secret}"}).status

    def refused_everywhere_within(self, secret: str, since: float) -> float:
        """Seconds from ``since`` until both nodes answer 401 for ``secret``; fails if a node
        still accepts it past the bound."""
        while True:
            statuses = {self.status_of(node, secret) for node in (self.a, self.b)}
            waited = time.monotonic() - since
            if statuses == {401}:
                return waited
            assert statuses <= {200, 401}, statuses
            assert waited < BOUND, f"still accepted {waited:.3f}s after the revocation"
            time.sleep(0.01)


@contextlib.contextmanager
def service(database_url: str, clock: FakeClock | None = None) -> Iterator[Runtime]:
    """The services over the nodes' database, in this process (no CLI process to start: on a
    loaded machine each costs seconds)."""
    store = SqlStore(database_url)
    try:
        yield Runtime.build(Settings(database_url=database_url), store=store, clock=clock)
    finally:
        store.dispose()


def _admin_credentials(database_url: str) -> tuple[str, str]:
    """The admin's key (scopes admin, introspect) and token (tokens:read, tokens:write)."""
    with service(database_url) as rt:
        admin = rt.accounts.by_name("admin")
        key = rt.tokens.create(
            admin, NewToken("e2e admin", (ADMIN, INTROSPECT)), by=TEST_ACTOR, kind=TokenKind.ADMIN
        )
        return key.secret, make_token(rt, admin, "e2e").secret


def two_nodes(cwd: Path) -> Iterator[Nodes]:
    """Start A (which migrates the database), then B on the same SQLite file; stop both."""
    database_url = f"sqlite:///{cwd / 'tokenward.db'}"
    env = clean_env(
        {
            "TOKENWARD_DATABASE_URL": database_url,
            "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TOKENWARD_MAX_STALENESS_MS": str(STALENESS_MS),
            "TOKENWARD_FAILED_AUTH_PER_MINUTE": "0",  # the tests send wrong secrets on purpose
        }
    )
    started: list[Server] = []
    try:
        for name in ("A", "B"):
            started.append(Server.start(cwd, env, name))
            started[-1].wait_ready()
        first = started[0]
        key = first.cli(
            "key", "create", "--label", "e2e admin", "--scope", "admin", "--scope", "introspect"
        )
        key = key.strip()
        scopes = ("--scope", "tokens:read", "--scope", "tokens:write")
        token = first.cli("token", "create", "--user", "admin", "--label", "e2e", *scopes).strip()
        yield Nodes(first, started[1], key, token, database_url)
    finally:
        for server in started:
            server.stop()
