"""Helpers for tests, ours and our users': a clock you can move, quick factories, and a fake
verifier for testing a resource server without a tokenward server.

``FakeClock`` and ``FakeVerifier`` work on the light install (``pip install tokenward``);
``memory_runtime``, ``make_user`` and ``make_token`` build the server's services, so they need
``tokenward[server]`` and import it when called."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import httpx

from tokenward.domain import tokens as token_format
from tokenward.domain.introspection import INACTIVE, active_response
from tokenward.domain.model import (
    Actor,
    Event,
    Principal,
    TokenRecord,
    TokenStatus,
    UserRecord,
    UserStatus,
)
from tokenward.domain.scopes import TOKENS_READ, TOKENS_WRITE
from tokenward.sdk.verifier import RemoteVerifier

if TYPE_CHECKING:
    from tokenward.runtime import Runtime
    from tokenward.service import CreatedToken
    from tokenward.settings import Settings

__all__ = ["FakeClock", "FakeVerifier", "make_token", "make_user", "memory_runtime"]

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
    from tokenward.passwords import PasswordHasher
    from tokenward.runtime import Runtime
    from tokenward.settings import Settings
    from tokenward.store.memory import MemoryStore

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
    from tokenward.service import NewToken

    request = NewToken(label=label, scopes=scopes, expires_in_days=lifetime.get("expires_in_days"))
    return runtime.tokens.create(owner, request, by=TEST_ACTOR)


class FakeVerifier(RemoteVerifier):
    """A :class:`~tokenward.sdk.RemoteVerifier` that never leaves the process: it answers for
    the tokens :meth:`issue` made, so a resource server's own tests need no tokenward server.

    Only the network is faked, by the verifier's transport (introspection is answered here;
    there is no event stream); the cache, the memo of verified headers, expiry checks and the
    middleware run as in production. Revocation reaches a cached token as the event stream's
    would, and ``unavailable = True`` fails closed (``503``) as when the server cannot be
    reached."""

    def __init__(self, *, capacity: int = 100_000) -> None:
        # Never contacted (``.invalid`` cannot resolve, RFC 2606); the key is no secret.
        super().__init__(
            "http://tokenward.invalid",
            "fake",
            max_staleness=math.inf,
            capacity=capacity,
            transport=httpx.MockTransport(self._answer),
        )
        self._tokens: dict[str, TokenRecord] = {}  # by digest, as the server keeps them
        self._users: dict[str, UserRecord] = {}  # by id
        self._user_ids: dict[str, str] = {}  # username -> id, one user per name by default
        self._unavailable = False
        self._vouch()

    def __repr__(self) -> str:
        return "FakeVerifier()"

    def start(self) -> None:
        """No event stream to follow: the cache was vouched for at construction."""

    def issue(
        self,
        username: str = "alice",
        *,
        scopes: Iterable[str] = (),
        expires_in: timedelta | None = timedelta(days=90),
        user_id: str | None = None,
    ) -> str:
        """A new, well-formed user token answered as ``username``'s with ``scopes`` until
        ``expires_in`` from now (``None``: never expires; a negative one: already expired)."""
        secret = token_format.generate(token_format.TokenKind.USER)
        now = datetime.now(UTC)
        user = self._user(username, user_id, now)
        record = TokenRecord(
            id=token_format.new_id("tok"),
            kind=token_format.TokenKind.USER,
            user_id=user.id,
            created_by=user.id,
            label="issued by FakeVerifier",
            scopes=tuple(dict.fromkeys(scopes)),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            digest=token_format.digest(secret),
            hint=token_format.hint(secret),
        )
        self._tokens[record.digest] = record
        return secret

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on, also where it is cached or remembered: evicted by the
        same event the server's stream would send. Raises ``KeyError`` if not issued here."""
        digest = token_format.digest(token)
        record = self._tokens[digest]
        now = datetime.now(UTC)
        if record.revoked_at is None:
            self._tokens[digest] = dataclasses.replace(record, revoked_at=now, revoked_by="test")
        details = {"digests": [digest], "user_id": record.user_id}
        # Applied after the record changed: an introspection that read it before is not cached.
        self.cache.apply(
            [Event("token.revoked", now, "tokenward", record.id, details=details)], None
        )

    @property
    def unavailable(self) -> bool:
        """While true, tokenward is unreachable: nothing is vouched for, every token is ``503``."""
        return self._unavailable

    @unavailable.setter
    def unavailable(self, value: bool) -> None:
        self._unavailable = value
        if value:
            self.cache.confirmed_at = None  # as when heartbeats stop: the cache serves nothing
        else:
            self._vouch()

    def _vouch(self) -> None:
        """Confirm freshness now; with ``max_staleness`` infinite it never lapses."""
        self.cache.apply([], time.monotonic())

    def _user(self, username: str, user_id: str | None, now: datetime) -> UserRecord:
        if user_id is None:
            user_id = self._user_ids.setdefault(username, token_format.new_id("usr"))
        user = self._users.get(user_id)
        if user is None or user.username != username:
            user = UserRecord(
                user_id,
                username,
                password_hash="",
                is_admin=False,
                status=UserStatus.ACTIVE,
                created_at=now,
            )
            self._users[user_id] = user
        return user

    def _answer(self, request: httpx.Request) -> httpx.Response:
        """The tokenward server's side of the transport: its introspection answer, built by
        the server's own code, for the verifier's real parsing, expiry check and guarded fill."""
        if self._unavailable:
            raise httpx.ConnectError("tokenward is unavailable", request=request)
        if request.url.path != "/v1/introspect":
            return httpx.Response(404)  # no event stream here: see start
        tokens = parse_qs(request.content.decode("ascii")).get("token", [""])
        record = self._tokens.get(token_format.digest(tokens[0]))
        if record is None or record.status(datetime.now(UTC)) is not TokenStatus.ACTIVE:
            return httpx.Response(200, json=INACTIVE)  # RFC 7662 §2.2: nothing more said
        principal = Principal(self._users[record.user_id], record)
        return httpx.Response(200, json=active_response(principal))
