"""Rotation with grace: the successor, the old secret's grace from the successor's first use, the
7-day cap, refusal after it, reuse alarms and family revocation (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tokenward.domain.errors import Conflict, InsufficientScope, InvalidInput, NotFound
from tokenward.domain.model import Actor, DeadTokenPresented, Event, Principal, TokenStatus
from tokenward.domain.policy import policy_to_document
from tokenward.domain.scopes import TOKENS_READ, TOKENS_WRITE
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, Rotation
from tokenward.testing import FakeClock, make_token, make_user

T = Actor("test", "192.0.2.1")
HOUR = timedelta(hours=1)
CLIENT = ("198.51.100.7", 4242)


def _events(runtime: Runtime, type: str) -> list[Event]:
    return [e for e in runtime.store.events_after(0, limit=1000) if e.type == type]


def _rotate(runtime: Runtime, token: CreatedToken, grace: timedelta = HOUR) -> Rotation:
    return runtime.tokens.rotate(token.record.id, owner_id=token.record.user_id, by=T, grace=grace)


def _refused(runtime: Runtime, secret: str) -> DeadTokenPresented:
    with pytest.raises(DeadTokenPresented) as refused:
        runtime.verification.verify(secret)
    return refused.value


def _works(runtime: Runtime, secret: str) -> Principal:
    return runtime.verification.verify(secret)


def test_the_successor_keeps_label_scopes_kind_and_lifetime_length(
    runtime: Runtime, clock: FakeClock
) -> None:
    alice = make_user(runtime)
    old = make_token(runtime, alice, "ci", (TOKENS_READ,), expires_in_days=30)
    clock.advance(days=10)
    done = _rotate(runtime, old)
    new = done.created.record
    assert (new.label, new.scopes, new.kind, new.user_id) == (
        "ci",
        (TOKENS_READ,),
        old.record.kind,
        alice.id,
    )
    assert new.expires_at == clock.now() + timedelta(days=30)
    assert new.rotated_from == old.record.id and done.old.rotated_to == new.id
    assert done.grace_until == clock.now() + timedelta(days=7)
    assert done.old.grace_seconds == 3600 and done.old.grace_started_at is None
    (rotated,) = _events(runtime, "token.rotated")
    assert rotated.subject == old.record.id
    assert rotated.details["user_id"] == alice.id and rotated.details["rotated_to"] == new.id
    created = [e for e in _events(runtime, "token.created") if e.subject == new.id]
    assert created[0].details["rotated_from"] == old.record.id


def test_a_lifetime_longer_than_todays_policy_is_cut_to_the_maximum(
    runtime: Runtime, clock: FakeClock
) -> None:
    alice = make_user(runtime)
    old = make_token(runtime, alice, expires_in_days=300)
    document = policy_to_document(runtime.policies.current())
    document["user_token"] = {"default_days": 30, "max_days": 60, "allow_no_expiry": False}
    runtime.policies.update(document, T)
    done = _rotate(runtime, old)
    assert done.created.record.expires_at == clock.now() + timedelta(days=60)


def test_the_old_secret_works_until_the_successor_is_first_used_then_for_the_grace(
    runtime: Runtime, clock: FakeClock
) -> None:
    alice = make_user(runtime)
    old = make_token(runtime, alice)
    done = _rotate(runtime, old, grace=HOUR)
    clock.advance(days=2)  # far past the grace length, but the successor was never used
    _works(runtime, old.secret)
    _works(runtime, done.created.secret)  # first use: the grace starts now
    started = clock.now()
    (event,) = _events(runtime, "token.grace_started")
    assert event.subject == old.record.id and event.details["user_id"] == alice.id
    assert event.details["digests"] == [old.record.digest]  # every cache drops the old token
    clock.advance(minutes=59)
    _works(runtime, old.secret)
    _works(runtime, done.created.secret)  # later uses do not move the grace
    clock.advance(minutes=1)
    assert _refused(runtime, old.secret).dead_because == "rotated"
    stored = runtime.tokens.get(alice.id, old.record.id)
    assert stored.grace_started_at == started and stored.grace_until == started + HOUR
    assert stored.status(clock.now()) is TokenStatus.EXPIRED
    assert len(_events(runtime, "token.grace_started")) == 1


def test_a_zero_grace_ends_the_old_secret_at_the_successors_first_use(
    runtime: Runtime, clock: FakeClock
) -> None:
    old = make_token(runtime, make_user(runtime))
    done = _rotate(runtime, old, grace=timedelta(0))
    _works(runtime, old.secret)
    _works(runtime, done.created.secret)
    _refused(runtime, old.secret)


def test_the_grace_never_lasts_past_seven_days_after_the_rotation(
    runtime: Runtime, clock: FakeClock
) -> None:
    alice = make_user(runtime)
    unused, late = make_token(runtime, alice, "a"), make_token(runtime, alice, "b")
    never_used = _rotate(runtime, unused, grace=timedelta(days=7))
    used_late = _rotate(runtime, late, grace=timedelta(days=7))
    clock.advance(days=6)
    _works(runtime, used_late.created.secret)  # starts a 7-day grace, cut at the cap
    clock.advance(days=1, seconds=-1)
    _works(runtime, unused.secret)
    _works(runtime, late.secret)
    clock.advance(seconds=1)
    _refused(runtime, unused.secret)
    _refused(runtime, late.secret)
    _works(runtime, never_used.created.secret)


def test_a_cached_old_token_is_refused_when_its_grace_ends(
    runtime: Runtime, clock: FakeClock
) -> None:
    """The grace start reaches the cache as an event: the entry cached with the 7-day cap is
    dropped, and the next read sees the real deadline."""
    runtime.start()
    try:
        runtime.follower.catch_up()
        old = make_token(runtime, make_user(runtime))
        done = _rotate(runtime, old, grace=HOUR)
        _works(runtime, old.secret)
        _works(runtime, old.secret)
        assert runtime.cache.get(old.record.digest) is not None  # served from the cache
        _works(runtime, done.created.secret)
        clock.advance(hours=1)
        _refused(runtime, old.secret)
    finally:
        runtime.stop()


@pytest.mark.parametrize("seconds", [-1, 7 * 24 * 3600 + 1])
def test_a_grace_out_of_range_is_refused_and_changes_nothing(
    runtime: Runtime, seconds: int
) -> None:
    alice = make_user(runtime)
    old = make_token(runtime, alice)
    before = runtime.store.max_seq()
    with pytest.raises(InvalidInput) as refused:
        _rotate(runtime, old, grace=timedelta(seconds=seconds))
    assert refused.value.field == "grace_seconds"
    assert runtime.store.max_seq() == before
    assert [t.id for t in runtime.tokens.list(alice.id).items] == [old.record.id]


def test_dead_or_rotated_tokens_cannot_be_rotated(runtime: Runtime, clock: FakeClock) -> None:
    alice = make_user(runtime)
    revoked, short, rotated = (make_token(runtime, alice, expires_in_days=1) for _ in range(3))
    runtime.tokens.revoke(revoked.record.id, by=T, owner_id=alice.id)
    newer = _rotate(runtime, rotated).created.record.id
    with pytest.raises(Conflict, match="revoked"):
        _rotate(runtime, revoked)
    with pytest.raises(Conflict, match=newer):
        _rotate(runtime, rotated)
    clock.advance(days=1)
    with pytest.raises(Conflict, match="expired"):
        _rotate(runtime, short)


def test_another_users_token_is_not_found_and_unchanged(runtime: Runtime) -> None:
    bobs = make_token(runtime, make_user(runtime, "bob"))
    alice = make_user(runtime)
    with pytest.raises(NotFound):
        runtime.tokens.rotate(bobs.record.id, owner_id=alice.id, by=T, grace=HOUR)
    assert runtime.tokens.get(None, bobs.record.id).rotated_to is None


def test_a_credential_cannot_rotate_a_token_wider_than_itself(runtime: Runtime) -> None:
    alice = make_user(runtime)
    narrow = make_token(runtime, alice, "narrow", (TOKENS_WRITE,))
    wide = make_token(runtime, alice, "wide", (TOKENS_READ, TOKENS_WRITE))
    caller = _works(runtime, narrow.secret)
    with pytest.raises(InsufficientScope):
        runtime.tokens.rotate(
            wide.record.id, owner_id=alice.id, by=T, grace=HOUR, granted_by=caller
        )
    assert runtime.tokens.get(alice.id, wide.record.id).rotated_to is None


def _reuse_after_grace(runtime: Runtime, clock: FakeClock) -> tuple[CreatedToken, Rotation]:
    old = make_token(runtime, make_user(runtime))
    done = _rotate(runtime, old, grace=timedelta(0))
    _works(runtime, done.created.secret)
    return old, done


def test_reuse_after_the_grace_is_reported_at_most_once_a_minute(
    runtime: Runtime, clock: FakeClock
) -> None:
    old, done = _reuse_after_grace(runtime, clock)
    for _ in range(3):
        runtime.alarms.presented(_refused(runtime, old.secret), CLIENT)
    assert runtime.alarms.flush_reuse() == 1
    clock.advance(seconds=30)
    runtime.alarms.presented(_refused(runtime, old.secret), CLIENT)
    assert runtime.alarms.flush_reuse() == 0
    clock.advance(seconds=30)
    runtime.alarms.presented(_refused(runtime, old.secret), CLIENT)
    assert runtime.alarms.flush_reuse() == 1
    first, _ = _events(runtime, "token.reuse_detected")
    assert first.subject == old.record.id and first.ip == CLIENT[0]
    assert first.details["user_id"] == old.record.user_id
    assert (first.details["count"], first.details["ip"]) == (3, CLIENT[0])
    assert first.details["rotated_to"] == done.created.record.id
    _works(runtime, done.created.secret)  # the policy's switch is off by default


def test_the_policy_switch_revokes_the_whole_rotation_family_on_reuse(
    runtime: Runtime, clock: FakeClock
) -> None:
    document = policy_to_document(runtime.policies.current())
    runtime.policies.update({**document, "revoke_family_on_reuse": True}, T)
    old, done = _reuse_after_grace(runtime, clock)
    newest = _rotate(runtime, done.created, grace=HOUR)
    runtime.alarms.presented(_refused(runtime, old.secret), CLIENT)
    runtime.alarms.flush_reuse()
    for secret in (done.created.secret, newest.created.secret):
        assert _refused(runtime, secret).dead_because == "revoked"
    revoked = {e.subject: e.details for e in _events(runtime, "token.revoked")}
    assert set(revoked) == {old.record.id, done.created.record.id, newest.created.record.id}
    assert {d["reason"] for d in revoked.values()} == {"reuse_detected"}


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_family_switch_must_be_a_boolean_and_a_bad_one_changes_nothing(
    runtime: Runtime, value: object
) -> None:
    document = policy_to_document(runtime.policies.current())
    before = runtime.store.max_seq()
    with pytest.raises(InvalidInput) as refused:
        runtime.policies.update({**document, "revoke_family_on_reuse": value}, T)
    assert refused.value.field == "revoke_family_on_reuse"
    assert runtime.store.max_seq() == before
    assert runtime.policies.current().revoke_family_on_reuse is False


def test_a_policy_stored_before_the_switch_existed_still_loads(runtime: Runtime) -> None:
    document = policy_to_document(runtime.policies.current())
    del document["revoke_family_on_reuse"]
    with runtime.store.transaction() as tx:
        tx.policy.save(document, runtime.clock.now())
    assert runtime.policies.current().revoke_family_on_reuse is False
