"""``set_password_hash`` on every store: memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tokenward.domain.model import UserRecord, UserStatus
from tokenward.domain.tokens import new_id
from tokenward.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_password_hash_is_replaced_and_nothing_else_of_the_user(store: Store) -> None:
    alice = UserRecord(new_id("usr"), "alice", "old-hash", False, UserStatus.ACTIVE, NOW)
    bob = UserRecord(new_id("usr"), "bob", "bobs-hash", True, UserStatus.ACTIVE, NOW)
    with store.transaction() as tx:
        tx.users.add(alice)
        tx.users.add(bob)
    with store.transaction() as tx:
        tx.users.set_password_hash(alice.id, "new-hash")
    with store.transaction() as tx:
        assert tx.users.by_id(alice.id) == UserRecord(
            alice.id, "alice", "new-hash", False, UserStatus.ACTIVE, NOW
        )
        assert tx.users.by_id(bob.id) == bob


def test_a_password_hash_set_in_a_failed_transaction_is_not_kept(store: Store) -> None:
    alice = UserRecord(new_id("usr"), "alice", "old-hash", False, UserStatus.ACTIVE, NOW)
    with store.transaction() as tx:
        tx.users.add(alice)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.users.set_password_hash(alice.id, "new-hash")
        raise RuntimeError("rolled back")
    with store.transaction() as tx:
        found = tx.users.by_id(alice.id)
    assert found is not None and found.password_hash == "old-hash"
