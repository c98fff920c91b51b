"""``RemoteVerifier(transport=...)`` as httpx's clients take one: introspection, sync and async,
and the event stream all go through it (tests need no network and no private overrides)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tokenward.domain import tokens as token_format
from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.tokens import TokenKind
from tokenward.sdk import RemoteVerifier

HEARTBEAT = b'event: heartbeat\ndata: {"seq": 3, "lag_ms": 0}\n\n'


def test_every_request_of_the_verifier_goes_through_its_transport() -> None:
    asked: list[str] = []

    def tokenward(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        assert request.headers["authorization"] == "Bearer twa_key"
        if request.url.path == "/v1/events":
            return httpx.Response(200, content=HEARTBEAT)
        answer = {"active": True, "sub": "usr_a", "username": "alice", "tokenward_id": "tok_a"}
        return httpx.Response(200, json=answer)

    transport = httpx.MockTransport(tokenward)
    verifier = RemoteVerifier("http://tokenward.invalid", "twa_key", transport=transport)
    try:
        assert verifier.verify(token_format.generate(TokenKind.USER)).username == "alice"
        caller = asyncio.run(verifier.averify(token_format.generate(TokenKind.USER)))
        assert caller.username == "alice"
        deadline = time.monotonic() + 5
        while not verifier.cache.is_fresh():  # the heartbeat came through the transport
            assert time.monotonic() < deadline, "the event stream never vouched"
            time.sleep(0.01)
    finally:
        verifier.stop()
    assert asked.count("POST /v1/introspect") == 2
    assert "GET /v1/events" in asked
    assert verifier.cache.applied_seq == 0  # a heartbeat applies no event


def test_a_sync_only_transport_fails_async_verification_closed() -> None:
    """A transport that cannot serve the async client is a transport failure: 503, never a
    crash and never an accept."""

    class SyncOnly(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(503)

    verifier = RemoteVerifier("http://tokenward.invalid", "twa_key", transport=SyncOnly())
    try:
        with pytest.raises(StoreUnavailable):
            asyncio.run(verifier.averify(token_format.generate(TokenKind.USER)))
    finally:
        verifier.stop()


def test_an_unexpected_error_on_one_connection_does_not_end_the_event_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug met while connecting (here a transport raising what httpx never raises) is
    logged and the stream reconnects: a thread that ended would leave the cache cold for
    good, every token introspected."""
    opened: list[int] = []

    def tokenward(request: httpx.Request) -> httpx.Response:
        opened.append(1)
        if len(opened) == 1:
            raise KeyError("PYTEST_CURRENT_TEST")  # what a racing os.environ change raised
        return httpx.Response(200, content=HEARTBEAT)

    verifier = RemoteVerifier(
        "http://tokenward.invalid", "twa_key", transport=httpx.MockTransport(tokenward)
    )
    try:
        verifier.start()
        deadline = time.monotonic() + 5
        while not verifier.cache.is_fresh():
            assert time.monotonic() < deadline, "the stream ended at the first error"
            time.sleep(0.01)
    finally:
        verifier.stop()
    assert len(opened) >= 2
    failed = [r for r in caplog.records if "event stream failed" in r.getMessage()]
    assert failed and "twa_key" not in caplog.text  # logged, and never the key
