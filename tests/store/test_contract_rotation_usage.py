"""The store contract for rotation, last use and dead-token bookkeeping: memory, SQLite and
PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokenward.domain.model import TokenRecord, TokenStatus, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind, digest, generate, new_id
from tokenward.store import Store, TokenQuery
from tokenward.store.base import LastUse, Rotated

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _pair(store: Store) -> tuple[UserRecord, TokenRecord, TokenRecord]:
    alice = UserRecord(new_id("usr"), "alice", "hash", False, UserStatus.ACTIVE, NOW)
    old, new = (
        TokenRecord(
            id=new_id("tok"),
            kind=TokenKind.USER,
            user_id=alice.id,
            created_by="test",
            label="label",
            scopes=("read",),
            created_at=NOW,
            expires_at=NOW + timedelta(days=30),
            digest=digest(generate(TokenKind.USER)),
            hint="twu_x…",
        )
        for _ in range(2)
    )
    with store.transaction() as tx:
        tx.users.add(alice)
        tx.tokens.add(old)
    return alice, old, new


def _stored(store: Store, token_id: str) -> TokenRecord:
    with store.transaction() as tx:
        found = tx.tokens.by_id(token_id)
    assert found is not None
    return found


def test_a_rotation_is_recorded_once_and_the_successor_names_its_predecessor(
    store: Store,
) -> None:
    _, old, new = _pair(store)
    cap = NOW + timedelta(days=7)
    successor = TokenRecord(**{**new.__dict__, "rotated_from": old.id})
    with store.transaction() as tx:
        assert tx.tokens.mark_rotated(old.id, Rotated(new.id, NOW, 60, cap))
        assert not tx.tokens.mark_rotated(
            old.id, Rotated("tok_other", NOW, 0, cap)
        )  # lost the race
        tx.tokens.add(successor)
    stored = _stored(store, old.id)
    assert (stored.rotated_to, stored.rotated_at, stored.grace_seconds) == (new.id, NOW, 60)
    assert (stored.grace_until, stored.grace_started_at) == (cap, None)
    assert _stored(store, new.id).rotated_from == old.id
    found = store.principal_by_digest(old.digest)
    assert found is not None and found[0] == stored  # the verify read sees the rotation


def test_a_revoked_token_cannot_be_marked_rotated(store: Store) -> None:
    _, old, new = _pair(store)
    with store.transaction() as tx:
        tx.tokens.revoke(old.id, NOW, "test", "owner")
        assert not tx.tokens.mark_rotated(old.id, Rotated(new.id, NOW, 0, NOW))
    assert _stored(store, old.id).rotated_to is None


def test_the_grace_starts_once(store: Store) -> None:
    _, old, new = _pair(store)
    with store.transaction() as tx:
        assert not tx.tokens.start_grace(old.id, NOW, NOW + MINUTE)  # not rotated: nothing to start
        tx.tokens.mark_rotated(old.id, Rotated(new.id, NOW, 60, NOW + timedelta(days=7)))
        assert tx.tokens.start_grace(old.id, NOW, NOW + MINUTE)
        assert not tx.tokens.start_grace(old.id, NOW + MINUTE, NOW + 2 * MINUTE)
    stored = _stored(store, old.id)
    assert (stored.grace_started_at, stored.grace_until) == (NOW, NOW + MINUTE)


def test_a_token_past_its_grace_lists_as_expired(store: Store) -> None:
    alice, old, new = _pair(store)
    with store.transaction() as tx:
        tx.tokens.mark_rotated(old.id, Rotated(new.id, NOW, 0, NOW + timedelta(days=7)))
        tx.tokens.start_grace(old.id, NOW, NOW + MINUTE)
        during = tx.tokens.list(TokenQuery(alice.id, NOW, TokenStatus.ACTIVE))
        after = tx.tokens.list(TokenQuery(alice.id, NOW + MINUTE, TokenStatus.EXPIRED))
        listed = tx.users.list(NOW + MINUTE)
    assert [t.id for t in during] == [old.id] and [t.id for t in after] == [old.id]
    assert listed[0][1] == 0


def test_last_uses_are_written_in_a_batch_keeping_the_newest(store: Store) -> None:
    _, old, _ = _pair(store)
    store.record_last_used([LastUse(old.id, NOW, "192.0.2.1")])
    store.record_last_used(
        [LastUse(old.id, NOW - MINUTE, "192.0.2.2"), LastUse("tok_gone", NOW, None)]
    )
    stored = _stored(store, old.id)
    assert (stored.last_used_at, stored.last_used_from) == (NOW, "192.0.2.1")
    store.record_last_used([LastUse(old.id, NOW + MINUTE, None)])
    assert _stored(store, old.id).last_used_at == NOW + MINUTE
    store.record_last_used([])


def test_dead_uses_add_up_on_the_tombstone(store: Store) -> None:
    _, old, _ = _pair(store)
    with store.transaction() as tx:
        assert tx.tokens.add_dead_uses(old.id, 3, NOW, "192.0.2.1") == 3
        assert tx.tokens.add_dead_uses(old.id, 2, NOW + MINUTE, "192.0.2.2") == 5


@pytest.mark.parametrize("alarm", ["dead_use", "reuse"])
def test_an_alarm_is_claimed_at_most_once_an_interval(store: Store, alarm: str) -> None:
    _, old, _ = _pair(store)
    every = timedelta(hours=1)
    with store.transaction() as tx:
        assert tx.tokens.claim_alarm(old.id, alarm, NOW, every)  # type: ignore[arg-type]
        assert not tx.tokens.claim_alarm(old.id, alarm, NOW + every - MINUTE, every)  # type: ignore[arg-type]
        assert tx.tokens.claim_alarm(old.id, alarm, NOW + every, every)  # type: ignore[arg-type]
        assert not tx.tokens.claim_alarm("tok_unknown", alarm, NOW, every)  # type: ignore[arg-type]
