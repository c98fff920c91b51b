"""``tokenward.testing.FakeVerifier``: a resource server's own tests, with no tokenward server.

The middleware, the cache and the memo of verified headers run for real; only the network is
faked, and an autouse guard fails any test in which something still tries to reach it.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import httpx2
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from wsgi_support import WSGICall, wsgi_caller

from tokenward.domain.tokens import TokenKind, generate
from tokenward.sdk import (
    Caller,
    TokenwardMiddleware,
    caller_of,
    optional_token,
    require_token,
)
from tokenward.testing import FakeVerifier


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real HTTP request fails the test (TestClient's in-process transport is not one)."""

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError("FakeVerifier tried to reach the network")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refuse)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", refuse)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.fixture
def verifier() -> FakeVerifier:
    fake = FakeVerifier()
    fake.url = _closed_port_url()  # were anything contacted, it would fail
    return fake


async def _projects(request: Request) -> JSONResponse:
    caller = caller_of(request.scope)
    return JSONResponse({"who": None if caller is None else caller.username})


@pytest.fixture
def api(verifier: FakeVerifier) -> TestClient:
    app = Starlette(routes=[Route("/projects", _projects)])
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    return TestClient(app)


@pytest.fixture
def fastapi_client(verifier: FakeVerifier) -> TestClient:
    app = FastAPI()

    @app.get("/mine")
    def mine(caller: Caller = Depends(require_token(scopes=["read"]))) -> dict[str, Any]:  # noqa: B008
        return {"who": caller.username, "scopes": sorted(caller.scopes)}

    @app.get("/public")
    def public(caller: Caller | None = Depends(optional_token())) -> dict[str, Any]:  # noqa: B008
        return {"who": None if caller is None else caller.username}

    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    return TestClient(app)


@pytest.fixture
def wsgi_call(verifier: FakeVerifier) -> WSGICall:
    """``call(authorization)`` of a plain WSGI app behind the middleware."""
    return wsgi_caller(verifier)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stamp(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _assert_invalid_token(answer: httpx.Response | httpx2.Response) -> None:
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


# -- ASGI: Starlette ----------------------------------------------------------------------


def test_an_issued_token_reaches_the_handler_with_its_caller_and_expiry(
    api: TestClient, verifier: FakeVerifier
) -> None:
    token = verifier.issue("alice", scopes=["read"])
    answer = api.get("/projects", headers=_bearer(token))
    assert answer.status_code == 200
    assert answer.json() == {"who": "alice"}
    expires = verifier.verify(token).expires_at
    assert expires is not None
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(seconds=5)
    assert answer.headers["tokenward-token-expires"] == _stamp(expires)


def test_anonymous_requests_take_the_anonymous_path(api: TestClient) -> None:
    answer = api.get("/projects")
    assert answer.status_code == 200
    assert answer.json() == {"who": None}
    assert "tokenward-token-expires" not in answer.headers


def test_a_token_revoked_after_being_remembered_is_refused(
    api: TestClient, verifier: FakeVerifier
) -> None:
    token = verifier.issue("alice")
    assert api.get("/projects", headers=_bearer(token)).status_code == 200
    assert api.get("/projects", headers=_bearer(token)).status_code == 200  # the hot path
    assert verifier.recall(f"Bearer {token}".encode()) is not None  # remembered and cached
    verifier.revoke(token)
    assert verifier.recall(f"Bearer {token}".encode()) is None
    _assert_invalid_token(api.get("/projects", headers=_bearer(token)))
    _assert_invalid_token(api.get("/projects", headers=_bearer(token)))  # and stays refused


def test_revoking_one_token_leaves_the_others_of_its_user_alone(
    api: TestClient, verifier: FakeVerifier
) -> None:
    laptop, phone = verifier.issue("alice"), verifier.issue("alice")
    for token in (laptop, phone):
        assert api.get("/projects", headers=_bearer(token)).status_code == 200
    verifier.revoke(laptop)
    verifier.revoke(laptop)  # idempotent
    _assert_invalid_token(api.get("/projects", headers=_bearer(laptop)))
    assert api.get("/projects", headers=_bearer(phone)).json() == {"who": "alice"}


def test_revoking_a_token_never_issued_is_an_error(verifier: FakeVerifier) -> None:
    with pytest.raises(KeyError):
        verifier.revoke(generate(TokenKind.USER))


def test_an_expired_token_is_refused(api: TestClient, verifier: FakeVerifier) -> None:
    token = verifier.issue("alice", expires_in=timedelta(seconds=-1))
    _assert_invalid_token(api.get("/projects", headers=_bearer(token)))


def test_a_remembered_token_is_refused_once_it_expires(
    api: TestClient, verifier: FakeVerifier
) -> None:
    """Expiry is checked on every use, the hot path included: a short lifetime is enough."""
    token = verifier.issue("alice", expires_in=timedelta(seconds=1.5))
    assert api.get("/projects", headers=_bearer(token)).status_code == 200
    expires = verifier.verify(token).expires_at
    assert expires is not None
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    answer = api.get("/projects", headers=_bearer(token))
    _assert_invalid_token(answer)
    assert "expired" in answer.json()["detail"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("twu_nope", id="malformed"),
        pytest.param(generate(TokenKind.USER), id="well-formed-but-unknown"),
        pytest.param(generate(TokenKind.SESSION), id="a-session-cookie"),
    ],
)
def test_malformed_and_unknown_tokens_are_refused_alike(api: TestClient, token: str) -> None:
    """The same words for every token that is not valid: no oracle for which ones exist."""
    answer = api.get("/projects", headers=_bearer(token))
    _assert_invalid_token(answer)
    assert answer.json()["detail"] == "The access token is not valid"


def test_unavailable_fails_closed_and_recovers(api: TestClient, verifier: FakeVerifier) -> None:
    token = verifier.issue("alice")
    assert api.get("/projects", headers=_bearer(token)).status_code == 200
    verifier.unavailable = True
    assert api.get("/projects", headers=_bearer(token)).status_code == 503  # even remembered
    assert api.get("/projects", headers=_bearer(verifier.issue("bob"))).status_code == 503
    assert api.get("/projects").json() == {"who": None}  # anonymous is unaffected
    _assert_invalid_token(api.get("/projects", headers=_bearer("twu_nope")))
    verifier.unavailable = False
    assert api.get("/projects", headers=_bearer(token)).json() == {"who": "alice"}


def test_the_lifespan_starts_no_event_stream(verifier: FakeVerifier) -> None:
    app = Starlette(routes=[Route("/projects", _projects)])
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    with TestClient(app) as client:  # runs the lifespan, which calls verifier.start()
        token = verifier.issue("alice")
        assert client.get("/projects", headers=_bearer(token)).json() == {"who": "alice"}
    assert not any(t.name == "tokenward-sdk-events" for t in threading.enumerate())
    assert verifier.cache.is_fresh()


# -- ASGI: FastAPI dependencies -----------------------------------------------------------


def test_require_token_admits_a_caller_holding_the_scope(
    fastapi_client: TestClient, verifier: FakeVerifier
) -> None:
    token = verifier.issue("alice", scopes=["read", "write"])
    answer = fastapi_client.get("/mine", headers=_bearer(token))
    assert answer.status_code == 200
    assert answer.json() == {"who": "alice", "scopes": ["read", "write"]}
    assert "tokenward-token-expires" in answer.headers


def test_require_token_answers_403_insufficient_scope(
    fastapi_client: TestClient, verifier: FakeVerifier
) -> None:
    token = verifier.issue("alice", scopes=["write"])
    refused = fastapi_client.get("/mine", headers=_bearer(token))
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="read"' in challenge


def test_require_token_answers_401_to_anonymous_and_optional_token_lets_them_in(
    fastapi_client: TestClient, verifier: FakeVerifier
) -> None:
    assert fastapi_client.get("/mine").status_code == 401
    assert fastapi_client.get("/public").json() == {"who": None}
    token = verifier.issue("bob")
    assert fastapi_client.get("/public", headers=_bearer(token)).json() == {"who": "bob"}


def test_a_revoked_token_is_refused_on_anonymous_endpoints_too(
    fastapi_client: TestClient, verifier: FakeVerifier
) -> None:
    token = verifier.issue("bob")
    assert fastapi_client.get("/public", headers=_bearer(token)).json() == {"who": "bob"}
    verifier.revoke(token)
    _assert_invalid_token(fastapi_client.get("/public", headers=_bearer(token)))


# -- WSGI ---------------------------------------------------------------------------------


def test_wsgi_an_issued_token_reaches_the_app_with_its_expiry(
    wsgi_call: WSGICall, verifier: FakeVerifier
) -> None:
    token = verifier.issue("alice", expires_in=None)
    status, headers, body = wsgi_call(f"Bearer {token}")
    assert (status, body) == ("200 OK", b"alice")
    assert headers["Tokenward-Token-Expires"] == "never"
    assert wsgi_call(None)[2] == b"anonymous"


def test_wsgi_refuses_revoked_expired_and_unknown_tokens(
    wsgi_call: WSGICall, verifier: FakeVerifier
) -> None:
    token = verifier.issue("alice")
    assert wsgi_call(f"Bearer {token}")[0] == "200 OK"
    assert wsgi_call(f"Bearer {token}")[0] == "200 OK"  # remembered
    verifier.revoke(token)
    expired = verifier.issue("alice", expires_in=timedelta(seconds=-1))
    for value in (token, expired, generate(TokenKind.USER), "twu_nope"):
        status, headers, _ = wsgi_call(f"Bearer {value}")
        assert status == "401 Unauthorized"
        assert 'error="invalid_token"' in headers["www-authenticate"]


def test_wsgi_fails_closed_when_unavailable(wsgi_call: WSGICall, verifier: FakeVerifier) -> None:
    token = verifier.issue("alice")
    assert wsgi_call(f"Bearer {token}")[0] == "200 OK"
    verifier.unavailable = True
    assert wsgi_call(f"Bearer {token}")[0] == "503 Service Unavailable"  # even remembered
    verifier.unavailable = False
    assert wsgi_call(f"Bearer {token}")[0] == "200 OK"


# -- the fake itself ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_async_and_sync_paths_agree(verifier: FakeVerifier) -> None:
    token = verifier.issue("carol", scopes=["read"], user_id="usr_carol")
    caller = await verifier.averify(token)
    assert caller == verifier.verify(token)
    assert (caller.username, caller.user_id, caller.scopes) == (
        "carol",
        "usr_carol",
        frozenset({"read"}),
    )


def test_one_username_is_one_user_unless_told_otherwise(verifier: FakeVerifier) -> None:
    first, second = verifier.issue("dave"), verifier.issue("dave")
    assert verifier.verify(first).user_id == verifier.verify(second).user_id
    assert verifier.verify(first).token_id != verifier.verify(second).token_id
    assert verifier.verify(verifier.issue("erin")).user_id != verifier.verify(first).user_id


def test_the_fake_shows_no_key_and_keeps_no_secret_as_a_key(verifier: FakeVerifier) -> None:
    token = verifier.issue("alice")
    assert repr(verifier) == "FakeVerifier()"
    assert token not in verifier._tokens  # by digest, as the server keeps them
