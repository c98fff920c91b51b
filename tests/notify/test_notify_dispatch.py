"""Dispatch and delivery guard themselves in the data: two dispatchers (or senders) by mistake
plan and send each delivery once."""

from __future__ import annotations

from notify_support import (
    WebhookReceiver,
    deliveries_of,
    due_deliveries,
    notifier_of,
    token,
    user_with_email,
)

from tokenward.runtime import Runtime
from tokenward.testing import TEST_ACTOR, FakeClock


def test_a_dispatcher_that_read_a_stale_cursor_plans_nothing(nodes: list[Runtime]) -> None:
    a, b = (notifier_of(rt) for rt in nodes)
    assert nodes[0].notify is not None
    hook = nodes[0].notify.webhooks.create("https://example.org/h", ["token.created"], TEST_ACTOR)
    token(nodes[0], user_with_email(nodes[0], "alice"), "laptop", 30)
    with nodes[0].store.transaction() as tx:
        cursor = tx.deliveries.cursor()
    events = nodes[0].store.events_after(cursor)
    plan_a = a.dispatcher._plan(events)
    plan_b = b.dispatcher._plan(events)
    assert len(plan_a) == len(plan_b) == 1
    last = events[-1].seq or 0
    assert a.dispatcher.advance(cursor, last, plan_a)
    assert not b.dispatcher.advance(cursor, last, plan_b)  # the cursor moved: nothing
    assert b.dispatcher.step() is None  # and from the new cursor, nothing is new
    assert len(deliveries_of(nodes[0], hook.record.id)) == 1


def test_two_senders_by_mistake_send_a_due_delivery_once(
    nodes: list[Runtime], clock: FakeClock
) -> None:
    a, b = (notifier_of(rt) for rt in nodes)
    with WebhookReceiver() as receiver:
        assert nodes[0].notify is not None
        nodes[0].notify.webhooks.create(receiver.url, ["token.created"], TEST_ACTOR)
        token(nodes[0], user_with_email(nodes[0], "alice"), "laptop", 30)
        a.dispatcher.run()
        [due] = due_deliveries(nodes[0], clock.now())
        assert a.deliverer._attempt(due) == 1
        assert b.deliverer._attempt(due) == 0  # read before the other's claim: refused
        assert b.deliverer.run(lambda: True) == 0
    assert len(receiver.received) == 1
