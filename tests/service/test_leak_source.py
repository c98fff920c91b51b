"""A leak report's ``source`` (issue 17, point 3): token-shaped strings in it are treated like
listed ones (revoked, the owner told) and it is kept only with its secrets redacted."""

from __future__ import annotations

import pytest

from tokenward.domain.model import Actor, DeadTokenPresented, Event
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user

REPORTER = Actor("anonymous", "192.0.2.44")


def _events(runtime: Runtime, type: str) -> list[Event]:
    return [e for e in runtime.store.events_after(0, limit=1000) if e.type == type]


def test_a_token_pasted_only_into_the_source_is_revoked_and_its_owner_told(
    runtime: Runtime,
) -> None:
    alice = make_user(runtime)
    pasted, kept = make_token(runtime, alice), make_token(runtime, alice)
    source = f"https://paste.example/raw?token={pasted.secret} (alice's CI log)"
    assert runtime.leaks.report([], source, REPORTER) == 0  # the answer counts listed strings
    with pytest.raises(DeadTokenPresented):
        runtime.verification.verify(pasted.secret)
    runtime.verification.verify(kept.secret)
    assert runtime.tokens.get(alice.id, pasted.record.id).revoke_reason == "leaked"
    (leaked,) = _events(runtime, "token.leaked")
    assert leaked.details == {
        "token_id": pasted.record.id,
        "user_id": alice.id,
        "source": "https://paste.example/raw?token=[redacted] (alice's CI log)",
    }
    (report,) = _events(runtime, "leak.reported")
    assert report.details["revoked"] == 1 and pasted.secret not in str(report)


def test_listed_and_pasted_copies_of_one_token_revoke_it_once(runtime: Runtime) -> None:
    leaked = make_token(runtime, make_user(runtime))
    runtime.leaks.report([leaked.secret], f"also here: {leaked.secret}", REPORTER)
    assert len(_events(runtime, "token.leaked")) == 1


def test_unknown_and_mistyped_token_shapes_in_the_source_change_nothing_but_are_redacted(
    runtime: Runtime,
) -> None:
    alice = make_user(runtime)
    witness = make_token(runtime, alice)
    unknown = generate(TokenKind.USER)
    mistyped = witness.secret[:-1] + ("A" if witness.secret[-1] != "A" else "B")
    runtime.leaks.report(["x"], f"{unknown} {mistyped}", REPORTER)
    runtime.verification.verify(witness.secret)  # one character off its secret: not revoked
    assert _events(runtime, "token.leaked") == []
    (report,) = _events(runtime, "leak.reported")
    assert report.details["source"] == "[redacted] [redacted]"
