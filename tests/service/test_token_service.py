"""Token use cases against a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from backends import stored_bytes
from tokenward.domain.errors import Conflict, InvalidInput, InvalidToken, NotFound, StoreUnavailable
from tokenward.domain.model import Actor, TokenStatus
from tokenward.domain.scopes import TOKENS_READ, TOKENS_WRITE
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.store.tables import users
from tokenward.testing import FakeClock, make_token, make_user

T = Actor("test")


# A trigger that makes every event insert fail as a constraint would.
_FAILING_EVENTS = {
    "sqlite": [
        "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'x'); END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION no_events() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'check_violation'; END $$",
        "CREATE TRIGGER no_events BEFORE INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION no_events()",
    ],
}


def _events(runtime: Runtime) -> list[tuple[str, str]]:
    return [(e.type, e.subject) for e in runtime.store.events_after(0, limit=1000)]


def test_create_stores_the_token_and_its_event_together(runtime: Runtime) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)
    assert ("token.created", created.record.id) in _events(runtime)
    assert runtime.tokens.get(alice.id, created.record.id) == created.record


def test_create_writes_nothing_when_the_event_cannot_be_written(
    runtime: Runtime, database_url: str
) -> None:
    alice = make_user(runtime)
    assert isinstance(runtime.store, SqlStore)
    with runtime.store.writer.begin() as conn:
        for statement in _FAILING_EVENTS[conn.dialect.name]:
            conn.exec_driver_sql(statement)
    try:
        with pytest.raises(Conflict):
            make_token(runtime, alice)
        assert runtime.tokens.list(alice.id).items == []
    finally:
        with runtime.store.writer.begin() as conn:
            conn.exec_driver_sql(
                "DROP TRIGGER no_events ON events"
                if conn.dialect.name == "postgresql"
                else "DROP TRIGGER no_events"
            )


def test_secrets_are_stored_only_as_digests(runtime: Runtime, database_url: str) -> None:
    alice = make_user(runtime)
    secrets = [make_token(runtime, alice).secret for _ in range(3)]
    runtime.tokens.revoke(runtime.tokens.list(alice.id).items[0].id, by=T, owner_id=alice.id)
    raw = stored_bytes(database_url)
    assert secrets[0][:8].encode() in raw  # the control: the hint is stored
    for secret in secrets:
        assert secret.encode() not in raw
        assert secret[4:20].encode() not in raw


def test_lifetime_defaults_come_from_policy_per_kind(runtime: Runtime, clock: FakeClock) -> None:
    alice = make_user(runtime)
    user_token = runtime.tokens.create(alice, NewToken(label="u"), by=T)
    admin_key = runtime.tokens.create(
        alice, NewToken(label="a", scopes=("introspect",)), by=T, kind=TokenKind.ADMIN
    )
    assert user_token.record.expires_at == clock.now() + timedelta(days=90)
    assert admin_key.record.expires_at == clock.now() + timedelta(days=7)
    assert admin_key.secret.startswith("twa_")


def test_admin_keys_may_carry_only_admin_scopes(runtime: Runtime) -> None:
    alice = make_user(runtime)
    with pytest.raises(InvalidInput, match="unknown scope"):
        runtime.tokens.create(
            alice, NewToken(label="a", scopes=("read",)), by=T, kind=TokenKind.ADMIN
        )


def test_a_token_cannot_grant_scopes_it_does_not_hold(runtime: Runtime) -> None:
    alice = make_user(runtime)
    caller = runtime.verification.verify(make_token(runtime, alice).secret)
    with pytest.raises(InvalidInput, match="does not hold") as caught:
        runtime.tokens.create(alice, NewToken(label="x", scopes=("read",)), by=T, granted_by=caller)
    assert caught.value.field == "scopes"
    narrower = runtime.tokens.create(
        alice, NewToken(label="x", scopes=(TOKENS_READ,)), by=T, granted_by=caller
    )
    assert narrower.record.scopes == (TOKENS_READ,)


def test_verify_accepts_a_valid_token_and_returns_its_owner(runtime: Runtime) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)
    principal = runtime.verification.verify(created.secret)
    assert principal.token is not None and principal.token.id == created.record.id
    assert principal.user.username == "alice"
    assert principal.has_scope(TOKENS_WRITE)


def test_verify_checks_expiry_on_every_use(runtime: Runtime, clock: FakeClock) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice, expires_in_days=1)
    runtime.verification.verify(created.secret)
    clock.advance(days=1)
    with pytest.raises(InvalidToken) as caught:
        runtime.verification.verify(created.secret)
    assert caught.value.reason == "expired"


def test_verify_refuses_a_revoked_token_and_says_so_to_its_holder(runtime: Runtime) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)
    runtime.tokens.revoke(created.record.id, by=T, owner_id=alice.id)
    with pytest.raises(InvalidToken) as caught:
        runtime.verification.verify(created.secret)
    assert caught.value.reason == "revoked"


def test_verify_refuses_tokens_of_a_deactivated_owner(runtime: Runtime) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)
    assert isinstance(runtime.store, SqlStore)
    with runtime.store.writer.begin() as conn:
        conn.execute(users.update().values(status="deactivated"))
    with pytest.raises(InvalidToken) as caught:
        runtime.verification.verify(created.secret)
    assert caught.value.reason == "owner deactivated"


def test_unknown_tokens_reveal_nothing(runtime: Runtime) -> None:
    with pytest.raises(InvalidToken) as caught:
        runtime.verification.verify(generate(TokenKind.USER))
    assert caught.value.reason is None


def test_malformed_tokens_are_refused_without_a_lookup(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real = runtime.store.principal_by_digest

    def counting(digest: str) -> object:
        lookups.append(digest)
        return real(digest)

    monkeypatch.setattr(runtime.store, "principal_by_digest", counting)
    secret = generate(TokenKind.USER)
    for candidate in (secret[:-1], secret.swapcase(), "twu_" + "0" * 49, "nonsense"):
        with pytest.raises(InvalidToken):
            runtime.verification.verify(candidate)
    assert lookups == []


def test_revoke_is_idempotent_and_writes_one_event(runtime: Runtime, clock: FakeClock) -> None:
    alice = make_user(runtime)
    created = make_token(runtime, alice)
    first = runtime.tokens.revoke(created.record.id, by=T, owner_id=alice.id)
    clock.advance(minutes=5)
    second = runtime.tokens.revoke(created.record.id, by=T, owner_id=alice.id)
    assert first == second
    assert first.effective_by == first.record.revoked_at + runtime.settings.max_staleness  # type: ignore[operator]
    assert _events(runtime).count(("token.revoked", created.record.id)) == 1


def test_another_users_token_is_not_found_and_stays_valid(runtime: Runtime) -> None:
    alice, bob = make_user(runtime), make_user(runtime, "bob")
    bobs = make_token(runtime, bob)
    with pytest.raises(NotFound):
        runtime.tokens.get(alice.id, bobs.record.id)
    with pytest.raises(NotFound):
        runtime.tokens.revoke(bobs.record.id, by=T, owner_id=alice.id)
    runtime.verification.verify(bobs.secret)


def test_list_pages_newest_first_and_filters(runtime: Runtime, clock: FakeClock) -> None:
    alice = make_user(runtime)
    ids = []
    for _ in range(5):
        ids.append(make_token(runtime, alice).record.id)
        clock.advance(seconds=1)
    runtime.tokens.revoke(ids[0], by=T, owner_id=alice.id)
    seen, cursor = [], None
    while True:
        page = runtime.tokens.list(alice.id, cursor=cursor, limit=2)
        seen += [t.id for t in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == list(reversed(ids))
    revoked = runtime.tokens.list(alice.id, status=TokenStatus.REVOKED).items
    assert [t.id for t in revoked] == [ids[0]]


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGEgY3Vyc29y", ""])
def test_a_forged_cursor_is_refused(runtime: Runtime, cursor: str) -> None:
    alice = make_user(runtime)
    with pytest.raises(InvalidInput) as caught:
        runtime.tokens.list(alice.id, cursor=cursor)
    assert caught.value.field == "cursor"


def test_an_unreachable_store_fails_closed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    unreachable = Runtime.build(Settings(database_url=url))
    with pytest.raises(StoreUnavailable):
        unreachable.verification.verify(generate(TokenKind.USER))
    with pytest.raises(StoreUnavailable):
        unreachable.store.ping()
