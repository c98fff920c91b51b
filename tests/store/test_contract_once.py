"""Each state change that must happen once is one conditional write: the repository says
whether this call made it, on every store, also when callers race (threads on one store)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tokenward.domain.model import SessionRecord, TokenRecord, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind, digest, generate, new_id
from tokenward.store import Store
from tokenward.store.base import StoreTransaction

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
RACERS = 8
T = TypeVar("T")


def _owner_and_token(store: Store) -> tuple[UserRecord, TokenRecord]:
    owner = UserRecord(new_id("usr"), "alice", "hash", False, UserStatus.ACTIVE, NOW)
    secret = generate(TokenKind.USER)
    token = TokenRecord(
        new_id("tok"), TokenKind.USER, owner.id, "test", "label", ("read",), NOW,
        NOW + timedelta(days=1), digest(secret), secret[:8],
    )  # fmt: skip
    with store.transaction() as tx:
        tx.users.add(owner)
        tx.tokens.add(token)
    return owner, token


def _race(store: Store, change: Callable[[StoreTransaction, int], T]) -> list[T]:
    """``RACERS`` transactions making ``change`` at once, each in a thread of its own."""
    start = threading.Barrier(RACERS)

    def one(index: int) -> T:
        start.wait()
        with store.transaction() as tx:
            return change(tx, index)

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


def test_a_revocation_happens_once_and_the_second_changes_nothing(store: Store) -> None:
    _, token = _owner_and_token(store)
    with store.transaction() as tx:
        first = tx.tokens.revoke(token.id, NOW, "first", "owner")
        assert tx.tokens.revoke(token.id, NOW + timedelta(hours=1), "second", "admin") is None
        assert tx.tokens.revoke("tok_unknown", NOW, "first", "owner") is None
    assert first is not None and (first.revoked_at, first.revoked_by) == (NOW, "first")
    with store.transaction() as tx:
        assert tx.tokens.by_id(token.id) == first


def test_of_racing_revocations_exactly_one_wins(store: Store) -> None:
    _, token = _owner_and_token(store)
    won = _race(
        store, lambda tx, i: tx.tokens.revoke(token.id, NOW + timedelta(seconds=i), f"r{i}", "x")
    )
    [winner] = [record for record in won if record is not None]
    with store.transaction() as tx:
        assert tx.tokens.by_id(token.id) == winner


def test_a_session_ends_once(store: Store) -> None:
    owner, _ = _owner_and_token(store)
    session = SessionRecord(new_id("ses"), owner.id, "c" * 64, NOW, NOW + timedelta(hours=1))
    with store.transaction() as tx:
        tx.sessions.add(session)
    ended = _race(store, lambda tx, i: tx.sessions.end(session.id, NOW + timedelta(seconds=i)))
    assert sorted(ended) == [False] * (RACERS - 1) + [True]


def test_a_status_changes_once_each_way(store: Store) -> None:
    owner, _ = _owner_and_token(store)
    stopped = _race(store, lambda tx, _: tx.users.set_status(owner.id, UserStatus.DEACTIVATED))
    assert stopped.count(True) == 1
    with store.transaction() as tx:
        assert tx.users.set_status(owner.id, UserStatus.ACTIVE)
        assert not tx.users.set_status(owner.id, UserStatus.ACTIVE)
        assert not tx.users.set_status("usr_unknown", UserStatus.ACTIVE)


def test_a_reminder_is_claimed_once(store: Store) -> None:
    _, token = _owner_and_token(store)
    claimed = _race(store, lambda tx, _: tx.reminders.claim(token.id, "7d", NOW))
    assert claimed.count(True) == 1
    with store.transaction() as tx:
        assert tx.reminders.claim(token.id, "1d", NOW)  # another mark is another reminder
        tx.reminders.link(token.id, "1d", 42)
        assert tx.reminders.candidates("1d", NOW, NOW + timedelta(days=2), 10) == []


def test_a_lease_is_taken_by_one_of_racing_holders(store: Store) -> None:
    until = NOW + timedelta(seconds=15)
    taken = _race(store, lambda tx, i: tx.leases.take("job", f"holder-{i}", NOW, until))
    assert taken.count(True) == 1
