"""GET /v1/events: revocation events as Server-Sent Events, from a real server."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import orjson
import pytest
import uvicorn

from tokenward.domain.model import Actor, Event
from tokenward.domain.tokens import TokenKind
from tokenward.http.app import create_app
from tokenward.http.events import sse_data
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.testing import make_token, make_user

ADMIN = Actor("test")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:
    """A real uvicorn server over ``runtime`` in a thread (its lifespan starts propagation)."""
    port = _free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def key(runtime: Runtime) -> str:
    root = make_user(runtime, "root", is_admin=True)
    request = NewToken(label="resource server", scopes=("introspect",))
    return runtime.tokens.create(root, request, by=ADMIN, kind=TokenKind.ADMIN).secret


class Stream:
    """Reads an SSE stream in a thread; ``next(kind)`` waits for the next event of a kind."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = httpx2.Client(timeout=10)
        self.response = self.client.send(
            self.client.build_request("GET", url, headers=headers), stream=True
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event: dict[str, Any] = {}
        try:
            for line in self.response.iter_lines():
                if not line:
                    if event:
                        self.events.put(event)
                    event = {}
                    continue
                name, _, value = line.partition(": ")
                event[name] = orjson.loads(value) if name == "data" else value
        except httpx2.HTTPError:
            return

    def next(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event.get("event") == kind:
                return event

    def close(self) -> None:
        self.response.close()
        self.client.close()
        self.thread.join(timeout=5)


def test_a_revocation_is_streamed_with_its_digest_and_seq(
    base_url: str, runtime: Runtime, key: str
) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)
    stream = Stream(f"{base_url}/v1/events", {"Authorization": f"Bearer {key}"})
    try:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        stream.next("heartbeat")
        done = runtime.tokens.revoke(created.record.id, by=ADMIN, owner_id=alice.id)
        event = stream.next("token.revoked")
        assert event["id"] == str(done.seq)
        assert event["data"]["digests"] == [created.record.digest]
        assert event["data"]["token_ids"] == [created.record.id]
        assert event["data"]["user_id"] == alice.id
    finally:
        stream.close()


def test_heartbeats_come_at_least_every_half_the_bound_with_the_current_seq(
    base_url: str, runtime: Runtime, key: str
) -> None:
    stream = Stream(f"{base_url}/v1/events", {"Authorization": f"Bearer {key}"})
    try:
        stream.next("heartbeat")
        started = time.monotonic()
        beat = stream.next("heartbeat", timeout=2)
        assert time.monotonic() - started <= 0.5 + 0.2  # max_staleness / 2, plus scheduling
        assert beat["data"]["seq"] == runtime.store.max_seq()
    finally:
        stream.close()


def test_a_stream_ends_when_the_node_drains(base_url: str, runtime: Runtime, key: str) -> None:
    """On SIGTERM the node drains: its streams end at once instead of holding the restart."""
    stream = Stream(f"{base_url}/v1/events", {"Authorization": f"Bearer {key}"})
    try:
        stream.next("heartbeat")
        runtime.draining.set()
        stream.thread.join(timeout=2)
        assert not stream.thread.is_alive()  # the response ended
    finally:
        stream.close()


def test_a_client_that_reconnects_with_last_event_id_gets_every_missed_event(
    base_url: str, runtime: Runtime, key: str
) -> None:
    alice = make_user(runtime)
    tokens = [make_token(runtime, alice, f"t{i}") for i in range(3)]
    first = runtime.tokens.revoke(tokens[0].record.id, by=ADMIN, owner_id=alice.id)
    # Disconnected meanwhile: two more revocations and a deactivation happen.
    for created in tokens[1:]:
        runtime.tokens.revoke(created.record.id, by=ADMIN, owner_id=alice.id)
    runtime.accounts.deactivate(alice.id, ADMIN)
    headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": str(first.seq)}
    stream = Stream(f"{base_url}/v1/events", headers)
    try:
        missed = [stream.next("token.revoked")["data"]["token_ids"] for _ in range(2)]
        assert missed == [[tokens[1].record.id], [tokens[2].record.id]]
        deactivated = stream.next("user.deactivated")
        assert deactivated["data"]["user_id"] == alice.id
    finally:
        stream.close()


@pytest.mark.parametrize("who", ["nobody", "user token"])
def test_the_stream_needs_the_introspect_scope(base_url: str, runtime: Runtime, who: str) -> None:
    headers = {}
    if who == "user token":
        headers["Authorization"] = f"Bearer {make_token(runtime, make_user(runtime)).secret}"
    answer = httpx2.get(f"{base_url}/v1/events", headers=headers, timeout=5)
    assert answer.status_code == (401 if who == "nobody" else 403)


def test_a_bad_starting_point_is_400(base_url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": "-1"}
    assert httpx2.get(f"{base_url}/v1/events", headers=headers, timeout=5).status_code == 400


def test_only_revocation_relevant_events_are_streamed() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert sse_data(Event("token.created", now, "a", "tok_1", details={"token_id": "t"})) is None
    assert sse_data(Event("user.created", now, "a", "usr_1")) is None
    assert sse_data(Event("policy.updated", now, "a", "policy")) is None
    deactivated = Event(
        "user.deactivated", now, "a", "usr_1", seq=9, details={"token_ids": ["tok_1", "tok_2"]}
    )
    assert sse_data(deactivated) == {
        "seq": 9,
        "type": "user.deactivated",
        "token_ids": ["tok_1", "tok_2"],
        "digests": [],
        "user_id": "usr_1",
        "at": "2026-01-01T00:00:00.000Z",
    }
