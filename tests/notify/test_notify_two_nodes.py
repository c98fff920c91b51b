"""The done-when of issue 7: two nodes on one database, a clock moved across the 30-day, 7-day,
1-day and expiry marks: every threshold gives exactly one webhook and one email per token."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage

import orjson
import pytest
from notify_support import (
    WebhookReceiver,
    node,
    notifier_of,
    token,
    user_with_email,
)

from tokenward.runtime import Runtime
from tokenward.sdk import verify_signature
from tokenward.testing import TEST_ACTOR, FakeClock

REMINDERS = ["token.expiring", "token.expired"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def nodes(
    database_url: str, clock: FakeClock, smtp: tuple[int, list[EmailMessage]]
) -> Iterator[list[Runtime]]:
    """Two nodes on the same database and the same (fake) clock, each with its notifier."""
    built = [node(database_url, clock, smtp[0]) for _ in range(2)]
    yield built
    for rt in built:
        rt.close()


def _tick_both(nodes: list[Runtime], first: int) -> list[int]:
    """Tick both nodes, ``first`` first; the indexes of the nodes that held the lease."""
    order = [first, 1 - first]
    return [index for index in order if notifier_of(nodes[index]).tick().leader]


def test_every_threshold_gives_one_webhook_and_one_email_per_token_with_two_nodes(
    nodes: list[Runtime],
    clock: FakeClock,
    receiver: WebhookReceiver,
    smtp: tuple[int, list[EmailMessage]],
) -> None:
    a, b = nodes
    alice, bob = user_with_email(a, "alice"), user_with_email(b, "bob")
    assert a.notify is not None
    hook = a.notify.webhooks.create(receiver.url, REMINDERS, TEST_ACTOR)
    tokens = {
        token(a, alice, "alice laptop", 40).record.id: "alice",
        token(b, bob, "bob ci", 45).record.id: "bob",
    }
    leaders: Counter[int] = Counter()
    start = clock.now().timestamp()
    for step in range(2 * 47):  # half a day at a time, across every mark of both tokens
        clock.advance(hours=12)  # longer than the lease: whoever ticks first takes it over
        held = _tick_both(nodes, step % 2)
        assert len(held) == 1  # one holder at a time
        leaders.update(held)
    assert leaders[0] > 0 and leaders[1] > 0  # both nodes led, in turn

    webhooks = Counter(
        (orjson.loads(r.body)["data"]["token_id"], orjson.loads(r.body)["data"].get("days"))
        for r in receiver.received
    )
    expected = Counter({(t, days): 1 for t in tokens for days in (30, 7, 1, None)})
    assert webhooks == expected
    for request in receiver.received:
        stamp = int(request.headers["Tokenward-Signature"].split(",")[0][2:])
        assert start <= stamp <= clock.now().timestamp()  # signed at the (fake) time of sending
        assert verify_signature(
            hook.secret, request.headers["Tokenward-Signature"], request.body, now=stamp
        )
    mails = Counter(
        (m["To"], m["Tokenward-Event"], m["Subject"])
        for m in smtp[1]
        if m["Tokenward-Event"] in REMINDERS
    )
    assert sorted(mails.values()) == [1] * 8
    for owner in ("alice", "bob"):
        subjects = sorted(s for to, _, s in mails if to == f"{owner}@example.org")
        assert len(subjects) == 4
        assert any("expires in 30 days" in s for s in subjects)
        assert any("expires in 7 days" in s for s in subjects)
        assert any("expires in 1 day" in s for s in subjects)
        assert any("has expired" in s for s in subjects)
