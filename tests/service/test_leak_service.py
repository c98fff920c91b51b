"""Leak reports: every valid token listed is revoked (reason ``leaked``) and reported to its
owner; the answer is the number of strings received, whatever they were."""

from __future__ import annotations

import pytest

from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import Actor, DeadTokenPresented, Event
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.testing import FakeClock, make_token, make_user

REPORTER = Actor("anonymous", "192.0.2.44")
SOURCE = "https://paste.example/abc"


def _events(runtime: Runtime, type: str) -> list[Event]:
    return [e for e in runtime.store.events_after(0, limit=1000) if e.type == type]


def test_a_valid_token_is_revoked_and_its_owner_told_where_it_leaked(runtime: Runtime) -> None:
    alice = make_user(runtime)
    leaked, kept = make_token(runtime, alice), make_token(runtime, alice)
    assert runtime.leaks.report([leaked.secret], SOURCE, REPORTER) == 1
    with pytest.raises(DeadTokenPresented):
        runtime.verification.verify(leaked.secret)
    runtime.verification.verify(kept.secret)
    stored = runtime.tokens.get(alice.id, leaked.record.id)
    assert stored.revoke_reason == "leaked"
    (event,) = _events(runtime, "token.leaked")
    assert event.subject == leaked.record.id
    assert event.details == {"token_id": leaked.record.id, "user_id": alice.id, "source": SOURCE}
    (revoked,) = _events(runtime, "token.revoked")
    assert revoked.details["digests"] == [leaked.record.digest]  # propagates like any revoke


def test_the_answer_is_the_same_for_valid_invalid_and_garbage(
    runtime: Runtime, clock: FakeClock
) -> None:
    alice = make_user(runtime)
    valid, dead = make_token(runtime, alice), make_token(runtime, alice)
    runtime.tokens.revoke(dead.record.id, by=REPORTER, owner_id=None)
    reports = [[valid.secret], [generate(TokenKind.USER)], ["garbage"], [dead.secret], []]
    answers = [runtime.leaks.report(r, SOURCE, REPORTER) for r in reports]
    assert answers == [1, 1, 1, 1, 0]
    assert len(_events(runtime, "token.leaked")) == 1
    assert len(_events(runtime, "leak.reported")) == 5  # every report leaves the same trace


def test_a_token_listed_twice_is_revoked_once(runtime: Runtime) -> None:
    leaked = make_token(runtime, make_user(runtime))
    assert runtime.leaks.report([leaked.secret, leaked.secret], SOURCE, REPORTER) == 2
    assert len(_events(runtime, "token.leaked")) == 1


@pytest.mark.parametrize(
    ("count", "source", "field"),
    [(101, SOURCE, "tokens"), (1, "", "source"), (1, "x" * 2001, "source")],
)
def test_an_oversized_or_sourceless_report_is_refused_and_revokes_nothing(
    runtime: Runtime, count: int, source: str, field: str
) -> None:
    leaked = make_token(runtime, make_user(runtime))
    before = runtime.store.max_seq()
    with pytest.raises(InvalidInput) as refused:
        runtime.leaks.report([leaked.secret] * count, source, REPORTER)
    assert refused.value.field == field
    runtime.verification.verify(leaked.secret)
    assert runtime.store.max_seq() == before
