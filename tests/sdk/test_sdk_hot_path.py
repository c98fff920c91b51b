"""The middleware's hot path: a remembered ``Authorization`` value is served from memory only
while the guarded cache still vouches for its caller (fresh, not evicted) and the token has not
expired; the hot path never skips a refusal that the full check would give.

The verifier's cache is fed here as its event stream would feed it (a confirmation of
freshness, revocation events), so these tests need no server: every request is a cache hit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tokenward.domain import tokens as token_format
from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.model import Event
from tokenward.domain.tokens import TokenKind
from tokenward.sdk import Caller, RemoteVerifier, TokenwardMiddleware, caller_of
from tokenward.sdk.verifier import expiry_value
from tokenward.sdk.wsgi import TokenwardWSGIMiddleware

NOWHERE = "http://127.0.0.1:9"  # a miss would fail: every request here must be a hit


def _caller(expires_in: float | None = 3600.0, user_id: str = "usr_alice") -> Caller:
    expires = None if expires_in is None else datetime.now(UTC) + timedelta(seconds=expires_in)
    return Caller("tok_1", user_id, "alice", frozenset({"read"}), expires)


def _fed(max_staleness: float = 60.0, capacity: int = 100) -> RemoteVerifier:
    verifier = RemoteVerifier(NOWHERE, "twa_key", max_staleness=max_staleness, capacity=capacity)
    verifier.cache.apply([], time.monotonic())  # a heartbeat: fresh as of now
    return verifier


def _cached(verifier: RemoteVerifier, caller: Caller) -> tuple[str, bytes]:
    """A new token whose caller the cache holds, and its header value."""
    token = token_format.generate(TokenKind.USER)
    cache = verifier.cache
    assert cache.fill(token_format.digest(token), caller, cache.generation)
    return token, f"Bearer {token}".encode()


def _revocation(token: str) -> Event:
    details = {"digests": [token_format.digest(token)]}
    return Event("token.revoked", datetime.now(UTC), "test", "tok_1", details=details, seq=1)


def test_a_remembered_header_is_recalled_with_its_caller_and_expiry_value() -> None:
    verifier = _fed()
    caller = _caller()
    token, header = _cached(verifier, caller)
    assert verifier.recall(header) is None  # not remembered yet
    verifier.remember(header, token, caller)
    remembered = verifier.recall(header)
    assert remembered is not None and remembered.caller is caller
    assert caller.expires_at is not None
    value = caller.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert remembered.header == (b"tokenward-token-expires", value.encode())
    assert remembered.header_text == value
    assert verifier.recall(b"bearer " + token.encode()) is None  # only the exact value


def test_a_token_without_expiry_is_recalled_with_never() -> None:
    verifier = _fed()
    caller = _caller(expires_in=None)
    token, header = _cached(verifier, caller)
    assert verifier.remember(header, token, caller).header_text == "never"
    assert verifier.recall(header) is not None


def test_recall_refuses_once_freshness_is_unproven_and_forgets_the_value() -> None:
    verifier = _fed(max_staleness=0.05)
    caller = _caller()
    token, header = _cached(verifier, caller)
    verifier.remember(header, token, caller)
    time.sleep(0.06)
    assert verifier.recall(header) is None
    verifier.cache.apply([], time.monotonic())  # fresh again, and the cache still holds it
    assert verifier.cache.get(token_format.digest(token)) is caller
    assert verifier.recall(header) is None  # but the memo let go of it


def test_recall_refuses_a_token_revoked_by_an_event() -> None:
    verifier = _fed()
    caller = _caller()
    token, header = _cached(verifier, caller)
    verifier.remember(header, token, caller)
    verifier.cache.apply([_revocation(token)], time.monotonic())
    assert verifier.recall(header) is None


def test_recall_refuses_every_token_of_a_deactivated_user() -> None:
    verifier = _fed()
    caller = _caller()
    token, header = _cached(verifier, caller)
    verifier.remember(header, token, caller)
    deactivated = Event("user.deactivated", datetime.now(UTC), "test", caller.user_id, seq=1)
    verifier.cache.apply([deactivated], time.monotonic())
    assert verifier.recall(header) is None


def test_recall_refuses_a_token_that_expired_while_remembered() -> None:
    verifier = _fed()
    caller = _caller(expires_in=0.05)
    token, header = _cached(verifier, caller)
    verifier.remember(header, token, caller)
    assert verifier.recall(header) is not None
    time.sleep(0.06)
    assert verifier.recall(header) is None


def test_recall_refuses_when_the_cache_holds_another_caller_for_the_token() -> None:
    verifier = _fed()
    old = _caller()
    token, header = _cached(verifier, old)
    verifier.remember(header, token, old)
    verifier.cache.apply([_revocation(token)], time.monotonic())
    newer = _caller()
    assert verifier.cache.fill(token_format.digest(token), newer, verifier.cache.generation)
    assert verifier.recall(header) is None


def test_the_memo_holds_at_most_the_cache_capacity_oldest_first_out() -> None:
    verifier = _fed(capacity=2)
    remembered = []
    for _ in range(3):
        caller = _caller()
        token, header = _cached(verifier, caller)
        verifier.remember(header, token, caller)
        remembered.append(header)
    assert verifier.recall(remembered[0]) is None
    assert verifier.recall(remembered[2]) is not None


# -- the ASGI middleware over a fed cache ------------------------------------------------------


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    caller = caller_of(scope)
    body = b"anonymous" if caller is None else caller.username.encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": body})


def _call(
    app: TokenwardMiddleware, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "query_string": query}
    asyncio.run(app({**scope, "headers": headers}, receive, send))
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


@pytest.fixture
def hot() -> Iterator[tuple[TokenwardMiddleware, bytes]]:
    """The middleware and a header value it has verified once (so it is remembered). Its
    first request started the verifier's event thread, which the fixture stops."""
    verifier = _fed()
    _, header = _cached(verifier, _caller())
    app = TokenwardMiddleware(_echo, verifier)
    try:
        assert _call(app, [(b"authorization", header)])[0] == 200
        yield app, header
    finally:
        verifier.stop()


def test_the_hot_path_answers_with_the_caller_and_the_expiry_header(
    hot: tuple[TokenwardMiddleware, bytes],
) -> None:
    app, header = hot
    assert app.verifier.recall(header) is not None
    status, headers, body = _call(app, [(b"host", b"x"), (b"authorization", header)])
    assert (status, body) == (200, b"alice")
    assert headers[b"x-app"] == b"1" and b"tokenward-token-expires" in headers


@pytest.mark.parametrize(
    ("query", "repeated"),
    [
        (b"access_token=abc", False),
        (b"acc%65ss_token=abc", False),  # percent-encoded: still a URI token
        (b"", True),
    ],
)
def test_a_remembered_token_still_gets_400_for_uri_tokens_and_repeated_headers(
    hot: tuple[TokenwardMiddleware, bytes], query: bytes, repeated: bool
) -> None:
    app, header = hot
    headers = [(b"authorization", header)] * (2 if repeated else 1)
    status, answer, _ = _call(app, headers, query)
    assert status == 400
    assert b'error="invalid_request"' in answer[b"www-authenticate"]


def test_a_header_name_in_any_case_is_still_read(hot: tuple[TokenwardMiddleware, bytes]) -> None:
    app, header = hot
    assert _call(app, [(b"Authorization", header)])[2] == b"alice"
    assert _call(app, [(b"Authorization", header), (b"authorization", header)])[0] == 400


def test_anonymous_requests_and_harmless_query_strings_pass(
    hot: tuple[TokenwardMiddleware, bytes],
) -> None:
    app, header = hot
    assert _call(app, [(b"host", b"x")], b"page=2%20") == (200, {b"x-app": b"1"}, b"anonymous")
    status, headers, body = _call(app, [(b"authorization", header)], b"q=%20")
    assert (status, body) == (200, b"alice")  # the full check, with the expiry header
    assert b"tokenward-token-expires" in headers


def test_a_token_that_expires_while_remembered_gets_401_expired() -> None:
    verifier = _fed()
    _, header = _cached(verifier, _caller(expires_in=0.1))
    app = TokenwardMiddleware(_echo, verifier)
    try:
        assert _call(app, [(b"authorization", header)])[0] == 200
        assert _call(app, [(b"authorization", header)])[0] == 200  # remembered
        time.sleep(0.11)
        status, headers, _ = _call(app, [(b"authorization", header)])
    finally:
        verifier.stop()
    assert status == 401
    assert b"expired" in headers[b"www-authenticate"]


def test_the_wsgi_hot_path_answers_as_the_full_check_does() -> None:
    verifier = _fed()
    caller = _caller()
    _, header = _cached(verifier, caller)

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["tokenward.caller"].username.encode()]

    def call() -> tuple[bytes, str]:
        started: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            started.update(headers)

        environ = {"QUERY_STRING": "", "HTTP_AUTHORIZATION": header.decode()}
        body = b"".join(app(environ, start_response))
        return body, started["Tokenward-Token-Expires"]

    app = TokenwardWSGIMiddleware(wsgi_app, verifier)
    try:
        full = call()  # verify() starts the event stream, which cannot reach NOWHERE
        assert verifier.recall(header) is not None
        assert call() == full == (b"alice", expiry_value(caller))
    finally:
        verifier.stop()


@pytest.mark.parametrize(
    ("query", "status", "said"),
    [
        ("", "200 OK", b"anonymous"),
        ("page=2", "200 OK", b"anonymous"),
        ("access_token=abc", "400 Bad Request", b"invalid_request"),
    ],
)
def test_the_wsgi_anonymous_path_still_refuses_uri_tokens(
    query: str, status: str, said: bytes
) -> None:
    """No header: passed through untouched, unless the query string may carry a token."""
    started: list[str] = []

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"anonymous" if environ["tokenward.caller"] is None else b"a caller"]

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started.append(status)

    app = TokenwardWSGIMiddleware(wsgi_app, _fed())
    body = b"".join(app({"QUERY_STRING": query}, start_response))
    assert started == [status]
    assert said in body


@pytest.mark.parametrize(
    "content",
    [b"<html>proxy error</html>", b"[]", b'{"active": true}', b'{"active": true, "exp": "x"}'],
)
def test_an_unreadable_introspection_answer_fails_closed(content: bytes) -> None:
    """A 200 that proves nothing is 503 (unavailable), never a crash (500) nor an accept."""

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/introspect":
            return httpx.Response(200, content=content)
        return httpx.Response(503)  # the event stream: nothing vouched for

    verifier = RemoteVerifier(NOWHERE, "twa_key", transport=httpx.MockTransport(server))
    try:
        with pytest.raises(StoreUnavailable):
            verifier.verify(token_format.generate(TokenKind.USER))
        with pytest.raises(StoreUnavailable):
            asyncio.run(verifier.averify(token_format.generate(TokenKind.USER)))
    finally:
        verifier.stop()
    assert len(verifier.cache) == 0
