"""The notifier lease (one holder, takeover after expiry) and the reminder rules: the nearest
threshold only, none for revoked tokens, never twice, not even by two holders by mistake."""

from __future__ import annotations

from datetime import datetime, timedelta

from notify_support import node, notifier_of, token, user_with_email

from tokenward.domain.model import Event
from tokenward.runtime import Runtime
from tokenward.store.base import EventQuery
from tokenward.testing import TEST_ACTOR, FakeClock

SECOND = timedelta(seconds=1)


def _reminders(rt: Runtime) -> list[Event]:
    with rt.store.transaction() as tx:
        found = tx.events.query(EventQuery(0, 1000))
    return [e for e in found if e.type in ("token.expiring", "token.expired")]


def _marks(rt: Runtime) -> list[tuple[str, object]]:
    return [(e.subject, e.details.get("days", "expired")) for e in _reminders(rt)]


def test_only_one_node_holds_the_lease_until_it_runs_out(
    nodes: list[Runtime], clock: FakeClock
) -> None:
    a, b = (notifier_of(rt) for rt in nodes)
    now, ttl = clock.now(), timedelta(seconds=15)

    def take(holder: str, at: datetime, until: datetime) -> bool:
        with nodes[0].store.transaction() as tx:
            return tx.leases.take("notifier", holder, at, until)

    assert take(a.holder, now, now + ttl)
    assert not take(b.holder, now, now + ttl)
    assert take(a.holder, now + SECOND, now + ttl + SECOND)  # renewal
    assert not take(b.holder, now + ttl, now + 2 * ttl)  # not yet out
    later = now + ttl + SECOND
    assert take(b.holder, later, later + ttl)  # ran out: takeover
    assert not take(a.holder, later, later + ttl)
    with nodes[0].store.transaction() as tx:
        tx.leases.release("notifier", b.holder)
    assert take(a.holder, later, later + ttl)  # released: at once


def test_a_stopped_notifier_hands_the_lease_over_at_once(
    nodes: list[Runtime], clock: FakeClock
) -> None:
    a, b = (notifier_of(rt) for rt in nodes)
    assert a.tick().leader and not b.tick().leader
    a.start()
    a.stop()  # releases
    assert b.tick().leader and not a.tick().leader


def test_each_threshold_is_sent_once_and_a_restart_does_not_resend(
    nodes: list[Runtime], clock: FakeClock, database_url: str
) -> None:
    a = nodes[0]
    created = token(a, user_with_email(a, "alice"), "laptop", 40)
    notifier_of(a).tick()
    assert _marks(a) == []
    clock.advance(days=10, seconds=1)  # 30 days left minus a second
    notifier_of(a).tick()
    notifier_of(a).tick()
    assert _marks(a) == [(created.record.id, 30)]
    restarted = node(database_url, clock)
    clock.advance(minutes=1)  # the old node's lease ran out
    assert notifier_of(restarted).tick().leader
    assert _marks(restarted) == [(created.record.id, 30)]
    restarted.close()


def test_a_token_made_inside_a_threshold_gets_only_the_nearer_ones(
    nodes: list[Runtime], clock: FakeClock
) -> None:
    a = nodes[0]
    five = token(a, user_with_email(a, "alice"), "short", 5).record.id
    thirty = token(a, user_with_email(a, "bob"), "month", 30).record.id
    for _ in range(12):
        clock.advance(hours=12)
        notifier_of(a).tick()
    assert _marks(a) == [(five, 1), (five, "expired")]
    for days in (20, 3, 1):  # 4 days left, then 1, then expired: no "30 days left" on day 0
        clock.advance(days=days)
        notifier_of(a).tick()
    assert _marks(a)[2:] == [(thirty, 7), (thirty, 1), (thirty, "expired")]


def test_a_scheduler_that_was_down_sends_only_the_nearest_threshold(
    nodes: list[Runtime], clock: FakeClock
) -> None:
    a = nodes[0]
    long = token(a, user_with_email(a, "alice"), "long", 60).record.id
    clock.advance(days=55)  # past the 30- and the 7-day marks, none sent yet
    notifier_of(a).tick()
    assert _marks(a) == [(long, 7)]


def test_revoked_tokens_get_no_reminders(nodes: list[Runtime], clock: FakeClock) -> None:
    a = nodes[0]
    alice = user_with_email(a, "alice")
    kept, revoked = token(a, alice, "kept", 20), token(a, alice, "revoked", 20)
    a.tokens.revoke(revoked.record.id, by=TEST_ACTOR, owner_id=None)
    clock.advance(days=21)
    for _ in range(3):
        clock.advance(days=1)
        notifier_of(a).tick()
    assert {subject for subject, _ in _marks(a)} == {kept.record.id}


def test_two_holders_by_mistake_cannot_send_a_reminder_twice(
    nodes: list[Runtime], clock: FakeClock
) -> None:
    a, b = nodes
    made = token(a, user_with_email(a, "alice"), "laptop", 40)
    clock.advance(days=11)
    # Both scan with no lease at all, one after the other, and both see the same candidates.
    with a.store.transaction() as tx:
        first = tx.reminders.candidates("30d", clock.now(), clock.now() + timedelta(days=30), 10)
    assert [t.id for t in first] == [made.record.id]
    assert notifier_of(a).reminders.scan((30, 7, 1)) == 1
    assert notifier_of(b).reminders.scan((30, 7, 1)) == 0
    event = _reminders(a)[0]
    again = notifier_of(b).reminders.send(made.record.id, "30d", clock.now(), event)
    assert again is False  # the key refuses it, and the event went back with it
    assert _marks(a) == [(made.record.id, 30)]
