"""Dead tokens are kept as tombstones; presenting one is counted and reported to its owner at
most once a day (``token.dead_use``). Unknown values record nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backends import stored_bytes
from tokenward.domain.errors import InvalidToken
from tokenward.domain.model import Actor, DeadTokenPresented, Event, TokenStatus
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.store.sql import SqlStore
from tokenward.store.tables import tokens
from tokenward.testing import FakeClock, make_token, make_user

T = Actor("test")


def _dead_uses(runtime: Runtime) -> list[Event]:
    return [e for e in runtime.store.events_after(0, limit=1000) if e.type == "token.dead_use"]


def _present(runtime: Runtime, secret: str, ip: str = "203.0.113.9") -> None:
    with pytest.raises(DeadTokenPresented) as refused:
        runtime.verification.verify(secret)
    runtime.alarms.presented(refused.value, (ip, 1234))


def test_dead_tokens_stay_as_tombstones_without_their_secret(
    runtime: Runtime, clock: FakeClock, database_url: str
) -> None:
    alice = make_user(runtime)
    expired = make_token(runtime, alice, expires_in_days=1)
    revoked = make_token(runtime, alice)
    runtime.tokens.revoke(revoked.record.id, by=T, owner_id=alice.id)
    clock.advance(days=400)
    listed = {t.id: t.status(clock.now()) for t in runtime.tokens.list(alice.id).items}
    assert listed == {
        expired.record.id: TokenStatus.EXPIRED,
        revoked.record.id: TokenStatus.REVOKED,
    }
    raw = stored_bytes(database_url)
    assert expired.record.digest.encode() in raw
    assert expired.secret.encode() not in raw and revoked.secret.encode() not in raw


def test_a_dead_token_in_use_is_reported_once_a_day_with_its_count(
    runtime: Runtime, clock: FakeClock
) -> None:
    alice = make_user(runtime)
    revoked = make_token(runtime, alice)
    runtime.tokens.revoke(revoked.record.id, by=T, owner_id=alice.id)
    for _ in range(3):
        _present(runtime, revoked.secret)
    assert runtime.alarms.flush_dead_uses() == 1
    clock.advance(hours=23)
    _present(runtime, revoked.secret, "203.0.113.10")
    assert runtime.alarms.flush_dead_uses() == 0
    clock.advance(hours=1)
    _present(runtime, revoked.secret, "203.0.113.11")
    assert runtime.alarms.flush_dead_uses() == 1
    first, second = _dead_uses(runtime)
    assert first.subject == revoked.record.id
    assert {k: first.details[k] for k in ("user_id", "count", "ip", "reason")} == {
        "user_id": alice.id,
        "count": 3,
        "ip": "203.0.113.9",
        "reason": "revoked",
    }
    assert (second.details["count"], second.details["ip"]) == (5, "203.0.113.11")
    assert second.details["last_at"] == clock.now().isoformat()


def test_an_expired_token_in_use_is_reported_too(runtime: Runtime, clock: FakeClock) -> None:
    expired = make_token(runtime, make_user(runtime), expires_in_days=1)
    clock.advance(days=1)
    _present(runtime, expired.secret)
    runtime.alarms.flush_dead_uses()
    (event,) = _dead_uses(runtime)
    assert (event.subject, event.details["reason"]) == (expired.record.id, "expired")


def test_unknown_tokens_record_nothing(runtime: Runtime) -> None:
    before = runtime.store.max_seq()
    with pytest.raises(InvalidToken) as refused:
        runtime.verification.verify(generate(TokenKind.USER))
    assert not isinstance(refused.value, DeadTokenPresented)
    assert runtime.alarms.flush_dead_uses() == 0
    assert runtime.store.max_seq() == before


def test_the_count_is_kept_on_the_tombstone_by_every_flush(
    runtime: Runtime, clock: FakeClock
) -> None:
    revoked = make_token(runtime, make_user(runtime))
    runtime.tokens.revoke(revoked.record.id, by=T, owner_id=revoked.record.user_id)
    for _ in range(2):
        _present(runtime, revoked.secret)
        runtime.alarms.flush_dead_uses()
    assert isinstance(runtime.store, SqlStore)
    with runtime.store.reader.connect() as conn:
        row = conn.execute(
            sa.select(tokens.c.dead_use_count, tokens.c.dead_used_from).where(
                tokens.c.id == revoked.record.id
            )
        ).one()
    assert tuple(row) == (2, "203.0.113.9")
