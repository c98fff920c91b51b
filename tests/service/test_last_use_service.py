"""Last use: recorded in memory per request, written in batches (never as events), at most once
a flush a token, and at stop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tokenward.domain.errors import StoreUnavailable
from tokenward.runtime import Runtime
from tokenward.service import usage
from tokenward.store.base import LastUse
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock, make_token, make_user


@pytest.fixture
def token_writes(runtime: Runtime) -> Iterator[list[str]]:
    """Every statement that writes the tokens table, from now on."""
    assert isinstance(runtime.store, SqlStore)
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("UPDATE TOKENS", "INSERT INTO TOKENS")):
            seen.append(statement)

    engine = runtime.store.writer
    sa.event.listen(engine, "before_cursor_execute", listen)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", listen)


def test_uses_are_written_in_one_batch_and_only_when_they_changed(
    runtime: Runtime, clock: FakeClock, token_writes: list[str]
) -> None:
    alice = make_user(runtime)
    first, second = make_token(runtime, alice), make_token(runtime, alice)
    before = runtime.store.max_seq()
    token_writes.clear()
    for n in range(50):
        runtime.usage.seen(first.record.id, ("192.0.2.1", n))
    runtime.usage.seen(second.record.id, ("192.0.2.2", 1))
    assert token_writes == []  # nothing is written per request
    assert runtime.usage.flush() == 2
    assert len(token_writes) == 1  # one batch
    assert runtime.usage.flush() == 0  # nothing new: nothing written
    assert len(token_writes) == 1
    stored = runtime.tokens.get(alice.id, first.record.id)
    assert (stored.last_used_at, stored.last_used_from) == (clock.now(), "192.0.2.1")
    assert runtime.store.max_seq() == before  # never an event


def test_an_older_use_never_overwrites_a_newer_one(runtime: Runtime, clock: FakeClock) -> None:
    """Two nodes write the same token: the later use wins whatever the order of the writes."""
    token = make_token(runtime, make_user(runtime))
    runtime.usage.seen(token.record.id, ("192.0.2.9", 1))
    newer = clock.now()
    runtime.usage.flush()
    runtime.store.record_last_used([LastUse(token.record.id, newer.replace(year=2025), "x")])
    stored = runtime.tokens.get(None, token.record.id)
    assert (stored.last_used_at, stored.last_used_from) == (newer, "192.0.2.9")


def test_stop_writes_what_is_pending(runtime: Runtime, clock: FakeClock) -> None:
    token = make_token(runtime, make_user(runtime))
    runtime.start()
    runtime.usage.seen(token.record.id, ("192.0.2.3", 1))
    runtime.stop()
    assert runtime.tokens.get(None, token.record.id).last_used_from == "192.0.2.3"


def test_many_uses_are_written_a_slice_at_a_time(
    runtime: Runtime, clock: FakeClock, token_writes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush of many tokens makes one statement per slice, not one for all of them: its
    transient objects stay small (they fragmented the heap, RSS per cached token)."""
    monkeypatch.setattr(usage, "BATCH", 3)
    alice = make_user(runtime)
    made = [make_token(runtime, alice) for _ in range(7)]
    token_writes.clear()
    for n, token in enumerate(made):
        runtime.usage.seen(token.record.id, (f"192.0.2.{n}", 1))
    assert runtime.usage.flush() == 7
    assert len(token_writes) == 3  # 3 + 3 + 1
    for n, token in enumerate(made):
        stored = runtime.tokens.get(alice.id, token.record.id)
        assert (stored.last_used_at, stored.last_used_from) == (clock.now(), f"192.0.2.{n}")


def test_a_slice_that_fails_leaves_only_the_unwritten_uses_pending(
    runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage, "BATCH", 2)
    alice = make_user(runtime)
    made = [make_token(runtime, alice) for _ in range(5)]
    for token in made:
        runtime.usage.seen(token.record.id, ("192.0.2.7", 1))
    write, calls = runtime.store.record_last_used, []

    def second_slice_fails(uses: Sequence[LastUse]) -> None:
        calls.append(len(uses))
        if len(calls) == 2:
            raise StoreUnavailable("the store went away")
        write(uses)

    monkeypatch.setattr(runtime.store, "record_last_used", second_slice_fails)
    with pytest.raises(StoreUnavailable):
        runtime.usage.flush()
    assert runtime.usage.flush() == 3  # the first slice is not written again
    assert calls == [2, 2, 2, 1]
    for token in made:  # nothing lost
        assert runtime.tokens.get(alice.id, token.record.id).last_used_at == clock.now()


def test_uses_within_a_second_from_one_address_share_one_record(
    runtime: Runtime, clock: FakeClock
) -> None:
    """A node serving thousands of tokens a second keeps one (time, address) for them: a last
    use is exact to within a second, and every token's use is still written."""
    alice = make_user(runtime)
    first, second, third, fourth = (make_token(runtime, alice) for _ in range(4))
    start = clock.now()
    runtime.usage.seen(first.record.id, ("192.0.2.1", 1))
    clock.advance(seconds=0.5)
    runtime.usage.seen(second.record.id, ("192.0.2.1", 2))  # shares the first's
    runtime.usage.seen(third.record.id, ("192.0.2.2", 1))  # another address: its own
    clock.advance(seconds=0.5)
    runtime.usage.seen(fourth.record.id, ("192.0.2.1", 3))  # a second on: its own
    assert runtime.usage.flush() == 4
    stored = {
        t.record.id: (r.last_used_at, r.last_used_from)
        for t in (first, second, third, fourth)
        if (r := runtime.tokens.get(alice.id, t.record.id))
    }
    half = start + timedelta(seconds=0.5)
    assert stored == {
        first.record.id: (start, "192.0.2.1"),
        second.record.id: (start, "192.0.2.1"),
        third.record.id: (half, "192.0.2.2"),
        fourth.record.id: (start + timedelta(seconds=1), "192.0.2.1"),
    }
