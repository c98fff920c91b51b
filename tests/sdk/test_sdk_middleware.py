"""The resource-server middleware against a real tokenward server: the same answers as the
server, revocations within the bound, fail closed when freshness is unproven, recovery."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sdk_server import ThreadServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from wsgi_support import wsgi_caller

from tokenward.domain.errors import InvalidToken
from tokenward.domain.model import Actor, UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.sdk import (
    Caller,
    RemoteVerifier,
    TokenwardMiddleware,
    caller_of,
    optional_token,
    require_token,
)
from tokenward.service import CreatedToken, NewToken
from tokenward.testing import FakeClock, make_token, make_user

ADMIN = Actor("test")
BOUND = 1.0


@pytest.fixture
def clock() -> FakeClock:
    """Now: the resource server checks expiry against the real clock."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def server(runtime: Runtime) -> Iterator[ThreadServer]:
    running = ThreadServer(runtime).start()
    yield running
    running.stop()


@pytest.fixture
def key(runtime: Runtime) -> str:
    root = make_user(runtime, "root", is_admin=True)
    request = NewToken(label="resource server", scopes=("introspect",))
    return runtime.tokens.create(root, request, by=ADMIN, kind=TokenKind.ADMIN).secret


@pytest.fixture
def verifier(server: ThreadServer, key: str) -> Iterator[RemoteVerifier]:
    checker = RemoteVerifier(server.url, key, max_staleness=BOUND)
    checker.start()
    _until(checker.cache.is_fresh, "the verifier never became fresh")
    yield checker
    checker.stop()


async def _projects(request: Request) -> JSONResponse:
    caller = caller_of(request.scope)
    return JSONResponse({"who": None if caller is None else caller.username})


@pytest.fixture
def api(verifier: RemoteVerifier) -> TestClient:
    app = Starlette(routes=[Route("/projects", _projects)])
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    return TestClient(app)


def _until(condition: Callable[[], bool], failure: str, limit: float = 5.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            pytest.fail(failure)
        time.sleep(0.005)
    return time.monotonic() - start


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice_token(runtime: Runtime, alice: UserRecord) -> CreatedToken:
    """Alice's token with the resource server's scope ``read`` (``alice`` is conftest's)."""
    return make_token(runtime, alice, scopes=("read",))


def test_anonymous_callers_pass_and_valid_tokens_carry_the_caller_and_expiry(
    api: TestClient, alice_token: CreatedToken
) -> None:
    assert api.get("/projects").json() == {"who": None}
    answer = api.get("/projects", headers=_bearer(alice_token.secret))
    assert answer.json() == {"who": "alice"}
    expires = alice_token.record.expires_at
    assert expires is not None
    assert answer.headers["tokenward-token-expires"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("header", "status", "error"),
    [
        ("Bearer twu_not_a_token", 401, "invalid_token"),
        ("Basic YWxpY2U6cHc=", 401, None),
        ("Bearer", 400, "invalid_request"),
        ("Bearer a\tb", 400, "invalid_request"),
    ],
)
def test_bad_credentials_get_the_same_answers_as_from_the_server(
    api: TestClient, header: str, status: int, error: str | None
) -> None:
    answer = api.get("/projects", headers={"Authorization": header})
    assert answer.status_code == status
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    assert answer.json().get("error") == error


def _revoke(runtime: Runtime, alice: UserRecord, token: CreatedToken) -> None:
    runtime.tokens.revoke(token.record.id, by=ADMIN, owner_id=alice.id)


def _deactivate(runtime: Runtime, alice: UserRecord, token: CreatedToken) -> None:
    runtime.accounts.deactivate(alice.id, ADMIN)


@pytest.mark.parametrize("kill", [_revoke, _deactivate], ids=["revoked", "owner-deactivated"])
def test_a_revoked_token_or_a_deactivated_users_is_refused_within_the_bound(
    api: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    kill: Callable[[Runtime, UserRecord, CreatedToken], None],
) -> None:
    assert api.get("/projects", headers=_bearer(alice_token.secret)).status_code == 200
    kill(runtime, alice, alice_token)
    took = _until(
        lambda: api.get("/projects", headers=_bearer(alice_token.secret)).status_code == 401,
        "still accepted",
    )
    assert took < BOUND


def test_with_tokenward_down_cached_tokens_last_until_the_bound_then_503_and_it_recovers(
    api: TestClient, server: ThreadServer, alice_token: CreatedToken, verifier: RemoteVerifier
) -> None:
    auth = _bearer(alice_token.secret)
    assert api.get("/projects", headers=auth).status_code == 200
    server.stop()
    stopped = time.monotonic()
    statuses: list[tuple[float, int]] = []
    while time.monotonic() - stopped < BOUND + 0.5:
        statuses.append(
            (time.monotonic() - stopped, api.get("/projects", headers=auth).status_code)
        )
        time.sleep(0.02)
    assert {code for _, code in statuses} <= {200, 503}
    assert all(code == 503 for at, code in statuses if at > BOUND)  # never served past the bound
    assert api.get("/projects").status_code == 200  # anonymous requests still work
    server.start()  # same port: the resource server was not restarted
    _until(lambda: api.get("/projects", headers=auth).status_code == 200, "no recovery", 10)


def test_fastapi_dependencies_require_scopes_and_allow_anonymous_where_asked(
    verifier: RemoteVerifier, runtime: Runtime, alice: UserRecord
) -> None:
    app = FastAPI()

    @app.get("/mine")
    def mine(caller: Caller = Depends(require_token(scopes=["read"]))) -> dict[str, Any]:  # noqa: B008
        return {"who": caller.username}

    @app.get("/public")
    def public(caller: Caller | None = Depends(optional_token())) -> dict[str, Any]:  # noqa: B008
        return {"who": None if caller is None else caller.username}

    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    client = TestClient(app)
    reader = make_token(runtime, alice, "reader", scopes=("read",))
    writer = make_token(runtime, alice, "writer", scopes=("write",))
    assert client.get("/mine", headers=_bearer(reader.secret)).json() == {"who": "alice"}
    refused = client.get("/mine", headers=_bearer(writer.secret))
    assert refused.status_code == 403
    assert 'scope="read"' in refused.headers["www-authenticate"]
    assert client.get("/mine").status_code == 401
    assert client.get("/public").json() == {"who": None}
    assert client.get("/public", headers=_bearer(writer.secret)).json() == {"who": "alice"}


def test_the_wsgi_variant_gives_flask_apps_the_same_guarantees(
    verifier: RemoteVerifier, runtime: Runtime, alice: UserRecord, alice_token: CreatedToken
) -> None:
    call = wsgi_caller(verifier)

    assert call(None)[2] == b"anonymous"
    status, headers, body = call(f"Bearer {alice_token.secret}")
    assert (status, body) == ("200 OK", b"alice")
    assert "Tokenward-Token-Expires" in headers
    assert call("Bearer twu_nope")[0].startswith("401")
    assert call("Basic abc")[0].startswith("401")
    runtime.tokens.revoke(alice_token.record.id, by=ADMIN, owner_id=alice.id)
    _until(lambda: call(f"Bearer {alice_token.secret}")[0].startswith("401"), "still accepted")


def test_the_verifier_never_shows_its_key(verifier: RemoteVerifier, key: str) -> None:
    assert key not in repr(verifier) and key not in str(verifier)


def test_concurrent_first_misses_for_one_token_share_one_introspection(
    api: TestClient, server: ThreadServer, alice_token: CreatedToken
) -> None:
    """32 requests with a token the resource server has never seen: one introspection."""
    server.answering.clear()  # hold the answer so that every request arrives while it waits
    threading.Timer(0.3, server.answering.set).start()

    async def first_requests() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            auth = _bearer(alice_token.secret)
            return await asyncio.gather(*(client.get("/projects", headers=auth) for _ in range(32)))

    answers = asyncio.run(first_requests())
    assert [a.status_code for a in answers] == [200] * 32
    assert {a.json()["who"] for a in answers} == {"alice"}
    assert all("tokenward-token-expires" in a.headers for a in answers)
    assert server.introspections == 1


def test_concurrent_sync_misses_in_threads_share_one_introspection(
    verifier: RemoteVerifier, server: ThreadServer, alice_token: CreatedToken
) -> None:
    """The WSGI path: 16 threads verifying a token not cached yet ask tokenward once."""
    server.answering.clear()
    threading.Timer(0.3, server.answering.set).start()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        callers = list(pool.map(lambda _: verifier.verify(alice_token.secret), range(16)))
    assert {caller.username for caller in callers} == {"alice"}
    assert server.introspections == 1


def test_a_shared_introspection_shares_its_refusal(
    verifier: RemoteVerifier, server: ThreadServer, runtime: Runtime, alice: UserRecord
) -> None:
    revoked = make_token(runtime, alice, "revoked")
    generation = verifier.cache.generation
    runtime.tokens.revoke(revoked.record.id, by=ADMIN, owner_id=alice.id)
    # Once the event is applied, no later one splits the flight (see the test below).
    _until(lambda: verifier.cache.generation != generation, "the event never arrived")
    server.answering.clear()
    threading.Timer(0.3, server.answering.set).start()

    def verify(_: int) -> str:
        try:
            verifier.verify(revoked.secret)
        except InvalidToken:
            return "refused"
        return "accepted"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(verify, range(8))) == {"refused"}
    assert server.introspections == 1


def test_a_miss_after_an_event_asks_afresh_instead_of_joining_an_older_introspection(
    verifier: RemoteVerifier,
    server: ThreadServer,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
) -> None:
    """An introspection begun before an event may predate a revocation; a request that comes
    after the event was applied must not be handed its answer."""
    other = make_token(runtime, alice, "other")
    server.answering.clear()

    async def scenario() -> Sequence[Caller | BaseException]:
        early = asyncio.ensure_future(verifier.averify(alice_token.secret))
        await _auntil(lambda: server.introspections == 1)
        generation = verifier.cache.generation
        runtime.tokens.revoke(other.record.id, by=ADMIN, owner_id=alice.id)
        await _auntil(lambda: verifier.cache.generation != generation)
        late = asyncio.ensure_future(verifier.averify(alice_token.secret))
        await _auntil(lambda: server.introspections == 2)
        server.answering.set()
        return await asyncio.gather(early, late, return_exceptions=True)

    early, late = asyncio.run(scenario())
    assert isinstance(early, Caller) and isinstance(late, Caller)
    assert server.introspections == 2


async def _auntil(condition: Callable[[], bool], limit: float = 5.0) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            pytest.fail("condition not reached")
        await asyncio.sleep(0.005)
