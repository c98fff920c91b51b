"""Helpers shared by the session, admin and abuse tests: log in over HTTP, present a cookie or a
key, read the audit log, and look at the bytes SQLite keeps on disk."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

from tokenward.domain.model import Event, UserRecord
from tokenward.domain.scopes import ADMIN
from tokenward.domain.tokens import TokenKind
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, NewToken
from tokenward.store.base import EventQuery
from tokenward.testing import DEFAULT_PASSWORD, TEST_ACTOR

PASSWORD = DEFAULT_PASSWORD
LOOPBACK = "http://127.0.0.1"  # plain HTTP on loopback: the one place the cookie is not Secure
AGENT = "ops-console/2.1"
CLIENT_IP = "testclient"  # what Starlette's TestClient puts in the ASGI scope by default
BARE_CHALLENGE = 'Bearer realm="tokenward"'

Rows = dict[str, list[tuple[Any, ...]]]
RowsOf = Callable[[], Rows]
ProblemCheck = Callable[..., dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class WebSession:
    """A logged-in web session, presented explicitly so that several can coexist."""

    id: str
    user_id: str
    secret: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"tw_session={self.secret}"}

    @property
    def writes(self) -> dict[str, str]:
        """Headers of a state-changing request: the cookie and its CSRF token."""
        return {**self.cookie, "X-CSRF-Token": self.csrf}


@contextmanager
def web_client(runtime: Runtime, base_url: str = LOOPBACK, **options: Any) -> Iterator[TestClient]:
    """The app over ``runtime``, as a browser-like client that sends ``AGENT``."""
    headers = {"User-Agent": AGENT, **options.pop("headers", {})}
    app = create_app(runtime)
    with TestClient(app, base_url=base_url, headers=headers, **options) as client:
        yield client


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> WebSession:
    """Log in over HTTP; the client's cookie jar is emptied again afterwards."""
    response = client.post("/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    secret = response.cookies["tw_session"]
    client.cookies.clear()
    me = client.get("/v1/self", headers={"Cookie": f"tw_session={secret}"})
    assert me.status_code == 200, me.text
    body = me.json()
    return WebSession(body["id"], body["user"]["id"], secret, response.json()["csrf_token"])


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def admin_key(
    runtime: Runtime, owner: UserRecord, *scopes: str, label: str = "ops key"
) -> CreatedToken:
    """An admin API key of ``owner`` (scope ``admin`` unless others are given)."""
    request = NewToken(label=label, scopes=scopes or (ADMIN,))
    return runtime.tokens.create(owner, request, by=TEST_ACTOR, kind=TokenKind.ADMIN)


def events(runtime: Runtime, type: str | None = None, after: int = 0) -> list[Event]:
    """The whole audit log after ``after`` (or the events of one type), through the service."""
    found: list[Event] = []
    while page := runtime.audit.query(EventQuery(after, 1000, type)):
        found += page
        after = page[-1].seq or 0
    return found


def last_seq(runtime: Runtime) -> int:
    """The ``seq`` of the newest event (0 for an empty log)."""
    every = events(runtime)
    return (every[-1].seq or 0) if every else 0


def except_events(rows: Rows) -> Rows:
    """Every table but the audit log: what a refused (but audited) request must not change."""
    return {name: table for name, table in rows.items() if name != "events"}


def check_invalid_token(response: Any, problem: ProblemCheck) -> None:
    """401 ``invalid_token`` with its challenge: the credential is refused."""
    problem(response, 401, error="invalid_token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def check_unauthenticated(response: Any, problem: ProblemCheck) -> None:
    """401 with a bare challenge: no credential that counts was presented."""
    problem(response, 401)
    assert response.headers["www-authenticate"] == BARE_CHALLENGE


def check_csrf_refused(response: Any, problem: ProblemCheck) -> None:
    body = problem(response, 403)
    assert body["type"] == "/problems/csrf"
    assert "www-authenticate" not in response.headers


def check_insufficient_admin(response: Any, problem: ProblemCheck) -> None:
    body = problem(response, 403, error="insufficient_scope")
    assert body["scope"] == "admin"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="tokenward", error="insufficient_scope"')
    assert challenge.endswith('scope="admin"')


def fields_of(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body["errors"]]


def only_failures_audited(rows: Rows, before: Rows) -> bool:
    """Nothing changed but new ``admin.failed`` events (at least one): a failed admin action
    is audited, and the state it would have changed stays as it was."""
    new = [row for row in rows["events"] if row not in before["events"]]
    audited = bool(new) and all("admin.failed" in row and "failed" in row for row in new)
    return audited and except_events(rows) == except_events(before)
