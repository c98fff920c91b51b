"""Reading the audit log as a person does (newest first, paged back by ``seq``), and the
tokens, sessions and users a page of events names, read in batches: SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import Actor
from tokenward.runtime import Runtime
from tokenward.store.base import EventQuery
from tokenward.store.sql import SqlStore
from tokenward.testing import DEFAULT_PASSWORD, make_token, make_user

WEB = Actor("anonymous", "192.0.2.7", "pytest-agent")


def test_the_log_reads_newest_first_and_pages_back_with_before(runtime: Runtime) -> None:
    for n in range(5):
        make_user(runtime, f"user{n}")
    newest = runtime.audit.query(EventQuery(newest_first=True, limit=3))
    seqs = [e.seq or 0 for e in newest]
    assert seqs == sorted(seqs, reverse=True)
    assert [e.details["username"] for e in newest] == ["user4", "user3", "user2"]
    older = runtime.audit.query(EventQuery(newest_first=True, before=seqs[-1]))
    assert [e.details["username"] for e in older] == ["user1", "user0"]


@pytest.mark.parametrize(("field", "query"), [("before", EventQuery(before=0))])
def test_a_bad_bound_is_refused_naming_it(runtime: Runtime, field: str, query: EventQuery) -> None:
    with pytest.raises(InvalidInput) as refused:
        runtime.audit.query(query)
    assert refused.value.field == field


def test_the_parties_of_a_page_are_every_token_session_and_user_it_names(
    runtime: Runtime,
) -> None:
    alice = make_user(runtime, "alice")
    bob = make_user(runtime, "bob")
    login = runtime.sessions.login("alice", DEFAULT_PASSWORD, WEB)
    created = make_token(runtime, bob, "ci deploy")
    runtime.tokens.revoke(created.record.id, by=Actor(login.session.id), owner_id=None)
    events = runtime.audit.query(EventQuery(limit=100))
    parties = runtime.audit.parties(events)
    assert set(parties.tokens) == {created.record.id}
    assert set(parties.sessions) == {login.session.id}
    assert set(parties.users) == {alice.id, bob.id}
    owner = parties.owner_of(login.session.id)
    assert owner is not None and owner.username == "alice"
    assert parties.owner_of(created.record.id) == parties.users[bob.id]
    assert parties.owner_of("cli") is None


def test_the_parties_are_read_in_one_statement_a_table_whatever_the_page(
    runtime: Runtime,
) -> None:
    owners = [make_user(runtime, f"user{n}") for n in range(4)]
    for n, owner in enumerate(owners * 3):
        make_token(runtime, owner, f"token {n}")
    runtime.sessions.login("user0", DEFAULT_PASSWORD, WEB)
    events = runtime.audit.query(EventQuery(limit=100))
    store = runtime.store
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    sa.event.listen(store.writer, "before_cursor_execute", record)
    try:
        parties = runtime.audit.parties(events)
    finally:
        sa.event.remove(store.writer, "before_cursor_execute", record)
    assert (len(parties.tokens), len(parties.sessions), len(parties.users)) == (12, 1, 4)
    reads = [s.split("FROM ")[1].split()[0] for s in statements if "FROM " in s]
    assert sorted(reads) == ["sessions", "tokens", "users"]
