"""GET /v1/events: revocation events as Server-Sent Events, from a real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx2
import pytest
from event_streams import Stream, introspect_key, served

from tokenward.domain.model import Actor, Event
from tokenward.http.events import sse_data
from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user

ADMIN = Actor("test")


base_url = pytest.fixture(served)
key = pytest.fixture(introspect_key)


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
