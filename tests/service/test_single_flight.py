"""Concurrent cache misses for one token on the server are one store read (single flight):
every request gets the answer of that one read, a refusal included, and a later miss reads
again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tokenward.domain.errors import InvalidToken
from tokenward.domain.model import Principal
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.store.sql import SqlStore
from tokenward.testing import make_token, make_user

N = 20


@pytest.fixture
def digest_reads(runtime: Runtime) -> Iterator[list[str]]:
    """Every statement the store's read engine runs that looks a token up by its digest."""
    assert isinstance(runtime.store, SqlStore)
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM tokens JOIN users" in statement and "tokens.digest =" in statement:
            seen.append(statement)

    sa.event.listen(runtime.store.reader, "before_cursor_execute", listen)
    yield seen
    sa.event.remove(runtime.store.reader, "before_cursor_execute", listen)


async def _all_at_once(runtime: Runtime, secret: str) -> list[Principal | BaseException]:
    calls = (runtime.authenticator.verify(secret) for _ in range(N))
    return await asyncio.gather(*calls, return_exceptions=True)


def test_concurrent_misses_for_one_token_are_one_read(
    runtime: Runtime, digest_reads: list[str]
) -> None:
    secret = make_token(runtime, make_user(runtime)).secret
    answers = asyncio.run(_all_at_once(runtime, secret))
    assert len(digest_reads) == 1
    assert {a.token.id for a in answers if isinstance(a, Principal) and a.token} == {
        runtime.tokens.list(None).items[0].id
    }
    assert len(answers) == N


def test_concurrent_misses_for_an_unknown_token_are_one_read_and_all_refused(
    runtime: Runtime, digest_reads: list[str]
) -> None:
    answers = asyncio.run(_all_at_once(runtime, generate(TokenKind.USER)))
    assert len(digest_reads) == 1
    assert all(isinstance(a, InvalidToken) for a in answers)


def test_a_miss_after_the_flight_landed_reads_again(
    runtime: Runtime, digest_reads: list[str]
) -> None:
    unknown = generate(TokenKind.USER)
    for _ in range(2):
        assert all(isinstance(a, InvalidToken) for a in asyncio.run(_all_at_once(runtime, unknown)))
    assert len(digest_reads) == 2
