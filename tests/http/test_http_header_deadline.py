"""uvicorn's two parsers with tokenward's header deadline, in a real server on loopback: a
request whose headers never finish, and a connection that never sends, are closed on time;
a request that completes is served as always."""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tokenward.cli import protocols
from tokenward.cli.protocols import protocol_for
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.memory import MemoryStore

DEADLINE = 1  # second


@pytest.fixture(params=["h11", "httptools"])
def port(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    if request.param == "httptools":
        pytest.importorskip("httptools")
    monkeypatch.setenv("TOKENWARD_HEADER_TIMEOUT_SECONDS", str(DEADLINE))
    protocols.header_timeout.cache_clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    config = uvicorn.Config(
        create_app(Runtime.build(Settings(), store=MemoryStore())),
        host="127.0.0.1",
        port=free,
        http=protocol_for(request.param),
        log_level="error",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield free
    server.should_exit = True
    thread.join(timeout=10)
    protocols.header_timeout.cache_clear()


def _closed_within(sock: socket.socket, seconds: float, drip: bytes = b"") -> float | None:
    """Seconds until the server closes ``sock`` (sending ``drip`` every 0.2 s), or None."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if drip:
            try:
                sock.sendall(drip)
            except OSError:
                return time.monotonic() - started
        if select.select([sock], [], [], 0.2)[0]:
            try:
                if not sock.recv(4096):
                    return time.monotonic() - started
            except ConnectionResetError:
                return time.monotonic() - started
    return None


def test_headers_that_never_finish_are_cut_off_at_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        waited = _closed_within(slow, DEADLINE + 3, drip=b"X-Slow: 1\r\n")
    assert waited is not None and DEADLINE - 0.3 <= waited < DEADLINE + 1


def test_a_connection_that_sends_nothing_is_closed_at_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as idle:
        waited = _closed_within(idle, DEADLINE + 3)
    assert waited is not None and waited < DEADLINE + 1


def test_complete_requests_on_a_kept_alive_connection_are_served(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b'{"status":"ok"}')
            time.sleep(DEADLINE * 0.6)  # idle, but within the keep-alive timeout (5 s)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_the_next_request_on_a_kept_alive_connection_has_the_deadline_too(port: int) -> None:
    """A request that arrived whole arms no timer; the next one, whose headers drip in after
    it, is held to the deadline from its first byte."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 200 " in conn.recv(4096).split(b"\r\n", 1)[0]
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        waited = _closed_within(conn, DEADLINE + 3, drip=b"X-Slow: 1\r\n")
    assert waited is not None and DEADLINE - 0.3 <= waited < DEADLINE + 1
