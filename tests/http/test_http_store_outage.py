"""A store that cannot be reached fails closed: ``503`` with ``Retry-After`` on every hot route
and in both SDK middlewares in front of such a server (ARCHITECTURE: never 200, never anonymous,
never a crash). The store fails for real: a SQLite file in a folder that does not exist, or a
PostgreSQL port where nothing listens."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from tokenward.domain import tokens as token_format
from tokenward.domain.model import Actor, UserRecord
from tokenward.domain.scopes import INTROSPECT
from tokenward.domain.tokens import TokenKind
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.sdk import RemoteVerifier, TokenwardMiddleware, TokenwardWSGIMiddleware
from tokenward.service import CreatedToken, NewToken
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock, make_token, make_user

Answer = tuple[int, dict[str, str]]


class InProcess(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport to an ASGI app in this process, for sync clients too (each sync
    request runs the app on an event loop of its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.asgi = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.asgi.handle_async_request(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def whole() -> httpx.Response:
            answer = await self.asgi.handle_async_request(request)
            content = await answer.aread()
            return httpx.Response(answer.status_code, headers=answer.headers, content=content)

        return asyncio.run(whole())


@dataclasses.dataclass
class Outage:
    """A tokenward server whose store is down, and what callers hold: alice's token, an
    introspection key this node still has cached (verified before the outage, within the
    bound), and one it has not."""

    server: TestClient
    alice: CreatedToken
    cached_key: CreatedToken
    other_key: CreatedToken
    app: ASGIApp

    def bearer(self, token: CreatedToken) -> dict[str, str]:
        return {"Authorization": f"Bearer {token.secret}"}


def _unreachable(database_url: str, tmp_path: Path) -> str:
    """A URL of the same kind of database that cannot be reached."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'gone' / 'tokenward.db'}"
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/test"


def _introspect_key(runtime: Runtime, owner: UserRecord, label: str) -> CreatedToken:
    request = NewToken(label=label, scopes=(INTROSPECT,))
    return runtime.tokens.create(owner, request, by=Actor("test"), kind=TokenKind.ADMIN)


@pytest.fixture
def outage(
    runtime: Runtime, database_url: str, tmp_path: Path, clock: FakeClock
) -> Iterator[Outage]:
    root, alice = make_user(runtime, "root", is_admin=True), make_user(runtime, "alice")
    cached_key = _introspect_key(runtime, root, "cached")
    other_key = _introspect_key(runtime, root, "other")
    principal = runtime.verification.verify(cached_key.secret)  # read before the outage
    url = _unreachable(database_url, tmp_path)
    store = SqlStore(url)
    settings = Settings(database_url=url, max_staleness=timedelta(seconds=30))
    down = Runtime.build(settings, store=store, clock=clock)
    # This node confirmed its freshness just before the store went away, with the key cached.
    down.cache.apply([], time.monotonic())
    digest = token_format.digest(cached_key.secret)
    assert down.cache.fill(digest, principal, down.cache.generation)
    app = create_app(down)
    server = TestClient(app, raise_server_exceptions=False)
    yield Outage(server, make_token(runtime, alice), cached_key, other_key, app)
    store.dispose()


def _server(method: str, path: str) -> Callable[[Outage], Answer]:
    def ask(outage: Outage) -> Answer:
        caller = outage.cached_key if path == "/v1/introspect" else outage.other_key
        headers = {} if path == "/v1/revoke" else outage.bearer(caller)
        form = {"token": outage.alice.secret} if method == "POST" else None
        answer = outage.server.request(method, path, headers=headers, data=form)
        return answer.status_code, dict(answer.headers)

    return ask


async def _project(request: Request) -> PlainTextResponse:
    return PlainTextResponse("served")


def _sdk_verifier(outage: Outage) -> RemoteVerifier:
    return RemoteVerifier(
        "http://tokenward", outage.other_key.secret, transport=InProcess(outage.app)
    )


def _sdk_asgi(outage: Outage) -> Answer:
    verifier = _sdk_verifier(outage)
    resource = TokenwardMiddleware(Starlette(routes=[Route("/projects", _project)]), verifier)
    try:
        with TestClient(resource) as client:
            answer = client.get("/projects", headers=outage.bearer(outage.alice))
    finally:
        verifier.stop()
    return answer.status_code, dict(answer.headers)


def _sdk_wsgi(outage: Outage) -> Answer:
    def resource(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served"]

    verifier = _sdk_verifier(outage)
    started: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {"HTTP_AUTHORIZATION": f"Bearer {outage.alice.secret}", "QUERY_STRING": ""}
    try:
        app = TokenwardWSGIMiddleware(resource, verifier)
        app(environ, lambda status, headers: started.append((status, headers)))
    finally:
        verifier.stop()
    [(status, headers)] = started
    return int(status.split()[0]), {name.lower(): value for name, value in headers}


CALLERS = {
    "GET /v1/self": _server("GET", "/v1/self"),
    "POST /v1/introspect": _server("POST", "/v1/introspect"),
    "POST /v1/revoke": _server("POST", "/v1/revoke"),
    "GET /v1/events": _server("GET", "/v1/events"),
    "GET /v1/forward-auth": _server("GET", "/v1/forward-auth"),
    "SDK ASGI middleware": _sdk_asgi,
    "SDK WSGI middleware": _sdk_wsgi,
}


@pytest.mark.parametrize("caller", CALLERS)
def test_a_store_outage_is_503_with_retry_after_on_every_hot_route(
    outage: Outage, caller: str
) -> None:
    status, headers = CALLERS[caller](outage)
    assert status == 503
    assert headers["retry-after"] == "1"
    oauth = caller in {"POST /v1/introspect", "POST /v1/revoke"}  # RFC 6749 §5.2 JSON there
    assert headers["content-type"] == ("application/json" if oauth else "application/problem+json")
