"""Helpers for tests, ours and our users': a clock you can move and quick factories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenward.domain.model import Actor, UserRecord
from tokenward.domain.scopes import TOKENS_READ, TOKENS_WRITE
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, NewToken
from tokenward.settings import Settings
from tokenward.store.memory import MemoryStore

__all__ = ["FakeClock", "make_token", "make_user", "memory_runtime"]

TEST_ACTOR = Actor("test")
DEFAULT_PASSWORD = "a-long-test-password"  # noqa: S105 - a fixture value, not a secret


class FakeClock:
    """A clock that stands still until moved."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def memory_runtime(settings: Settings | None = None, clock: FakeClock | None = None) -> Runtime:
    """Services over an in-memory store, with cheap password hashing."""
    return Runtime.build(
        settings or Settings(),
        store=MemoryStore(),
        clock=clock,
        passwords=PasswordHasher.fast_for_tests(),
    )


def make_user(runtime: Runtime, username: str = "alice", *, is_admin: bool = False) -> UserRecord:
    return runtime.accounts.create_user(
        username, DEFAULT_PASSWORD, is_admin=is_admin, by=TEST_ACTOR
    )


def make_token(
    runtime: Runtime,
    owner: UserRecord,
    label: str = "test token",
    scopes: tuple[str, ...] = (TOKENS_READ, TOKENS_WRITE),
    **lifetime: int,
) -> CreatedToken:
    """A token for ``owner``; ``lifetime`` takes ``expires_in_days``."""
    request = NewToken(label=label, scopes=scopes, expires_in_days=lifetime.get("expires_in_days"))
    return runtime.tokens.create(owner, request, by=TEST_ACTOR)
