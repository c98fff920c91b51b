"""The front door, in process: the client's address and scheme only through trusted proxies,
the body cap before any route, and readiness turning 503 the moment SIGTERM arrives."""

from __future__ import annotations

import ipaddress
import os
import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager
from types import FrameType
from typing import Any

import pytest
from admin_support import PASSWORD, ProblemCheck, RowsOf, events, web_client
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.http.app import create_app
from tokenward.http.draining import drain_on_sigterm
from tokenward.http.proxies import forwarded_client
from tokenward.runtime import Runtime

PROXY = "10.0.0.1"
CAP = 2048


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "trusted_proxies": (ipaddress.ip_network("10.0.0.0/30"),),
        "max_body_bytes": CAP,
    }


def _client(runtime: Runtime, peer: str) -> AbstractContextManager[TestClient]:
    return web_client(runtime, client=(peer, 40000))


def _failed_login_from(runtime: Runtime, peer: str, headers: dict[str, str]) -> str | None:
    """The address the audit log records for a failed login sent by ``peer``."""
    with _client(runtime, peer) as client:
        body = {"username": "nobody", "password": "wrong"}
        assert client.post("/v1/session", json=body, headers=headers).status_code == 401
    return events(runtime, "session.login_failed")[-1].ip


# -- trusted proxies ------------------------------------------------------------------------------


def _trusted(host: str) -> bool:
    return host.startswith("10.0.0.")


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ([], PROXY),
        (["198.51.100.7"], "198.51.100.7"),
        (["203.0.113.5", "198.51.100.7"], "198.51.100.7"),  # the client's own entry is ignored
        (["203.0.113.5", "198.51.100.7", "10.0.0.2"], "198.51.100.7"),  # two trusted hops
        (["10.0.0.3", "10.0.0.2"], "10.0.0.3"),  # every hop trusted: the farthest
        (["203.0.113.5", "not-an-address", "10.0.0.2"], "10.0.0.2"),  # garbage ends the walk
    ],
)
def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy(
    chain: list[str], client: str
) -> None:
    assert forwarded_client(PROXY, chain, _trusted) == client


def test_a_trusted_proxy_names_the_client_in_the_audit_log(runtime: Runtime) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.5, 198.51.100.7"}
    assert _failed_login_from(runtime, PROXY, forwarded) == "198.51.100.7"
    assert _failed_login_from(runtime, "::ffff:10.0.0.2", forwarded) == "198.51.100.7"


def test_forwarded_headers_from_anyone_else_are_ignored(runtime: Runtime) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
    assert _failed_login_from(runtime, "192.0.2.44", forwarded) == "192.0.2.44"
    assert _failed_login_from(runtime, "127.0.0.1", forwarded) == "127.0.0.1"


def test_by_default_no_proxy_is_trusted_not_even_loopback(app_over: Any) -> None:
    rt, _ = app_over()
    forwarded = {"X-Forwarded-For": "203.0.113.5"}
    assert rt.settings.trusted_proxies == ()
    assert _failed_login_from(rt, "127.0.0.1", forwarded) == "127.0.0.1"


def test_https_as_a_trusted_proxy_says_makes_the_cookie_secure_and_adds_hsts(
    runtime: Runtime, alice: UserRecord
) -> None:
    login = {"username": "alice", "password": PASSWORD}
    with _client(runtime, PROXY) as client:
        answer = client.post("/v1/session", json=login, headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert answer.cookies.get("__Host-tw_session") is not None
    with _client(runtime, "192.0.2.44") as client:
        answer = client.post("/v1/session", json=login, headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert "strict-transport-security" not in answer.headers
    assert answer.cookies.get("tw_session") is not None  # plain HTTP on loopback's base URL


# -- the body cap ---------------------------------------------------------------------------------


def test_a_declared_body_over_the_cap_is_413_before_anything_reads_it(
    runtime: Runtime, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    before = db_rows()
    with _client(runtime, "192.0.2.44") as client:
        answer = client.post(
            "/v1/session",
            content=b'{"username": "alice", "password": "' + b"x" * CAP + b'"}',
            headers={"Content-Type": "application/json"},
        )
    body = problem(answer, 413)
    assert body["type"] == "/problems/body-too-large"
    assert str(CAP) in body["detail"]
    assert answer.headers["connection"] == "close"
    assert db_rows() == before  # not parsed, not hashed, not audited


def test_a_streamed_body_is_counted_and_refused_once_it_passes_the_cap(
    runtime: Runtime, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):  # 100 KiB offered, chunked (no Content-Length)
            yield b" " * 1024

    before = db_rows()
    with _client(runtime, "192.0.2.44") as client:
        answer = client.post(
            "/v1/leaks", content=chunks(), headers={"Content-Type": "application/json"}
        )
    problem(answer, 413)
    assert db_rows() == before


def test_bodies_within_the_cap_and_requests_without_one_pass(
    runtime: Runtime, alice: UserRecord
) -> None:
    with _client(runtime, "192.0.2.44") as client:
        assert client.get("/healthz").status_code == 200
        padded = {"username": "alice", "password": PASSWORD, "pad": " " * (CAP - 200)}
        assert client.post("/v1/session", json=padded).status_code == 422  # read, validated
        login = {"username": "alice", "password": PASSWORD}
        assert client.post("/v1/session", json=login).status_code == 200


# -- draining -------------------------------------------------------------------------------------


def test_sigterm_turns_readiness_503_at_once_and_reaches_the_servers_handler(
    runtime: Runtime,
) -> None:
    received: list[int] = []

    def servers_handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    original = signal.signal(signal.SIGTERM, servers_handler)
    try:
        drain_on_sigterm(runtime.draining)
        with TestClient(create_app(runtime)) as client:
            os.kill(os.getpid(), signal.SIGTERM)
            answer = client.get("/readyz")
    finally:
        signal.signal(signal.SIGTERM, original)
    assert received == [signal.SIGTERM]
    assert answer.status_code == 503
    assert answer.json()["reason"] == "draining: the node is shutting down"
