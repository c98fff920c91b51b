"""Abuse limits with the limits on (3 failures a minute): failed logins refused per (username,
address) and slowed per username, unknown bearer tokens refused per address; 429 with
``Retry-After``, recovery after the window; a caller that succeeds is never refused, and the
real secret of a dead token is always told it is dead."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import httpx2
import pytest
from admin_support import (
    PASSWORD,
    ProblemCheck,
    RowsOf,
    bearer,
    check_invalid_token,
    events,
    except_events,
    web_client,
)
from starlette.testclient import TestClient

from tokenward.domain import tokens as token_format
from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import TEST_ACTOR, FakeClock, make_token, make_user

LIMIT = 3
WRONG = "not the password at all"
UNKNOWN_TOKEN = token_format.generate(TokenKind.USER)  # well-formed, checksum right, never stored
BAD_CHECKSUM = "twu_" + "1" * 49  # the right shape and length, a wrong checksum


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """Services with both failure limits on (the shared fixture has them off), over the test's
    own database; ``alice``, ``alice_token`` and ``db_rows`` use it."""
    settings = Settings(
        database_url=database_url,
        failed_auth_per_minute=LIMIT,
        failed_logins_per_minute=LIMIT,
    )
    store = SqlStore(database_url)
    rt = Runtime.build(
        settings, store=store, clock=clock, passwords=PasswordHasher.fast_for_tests()
    )
    rt.migrate()
    yield rt
    store.dispose()


@pytest.fixture
def clients(runtime: Runtime) -> Iterator[dict[str, TestClient]]:
    """One client per address: 10.0.0.1 … 10.0.0.9 (the limits count per address)."""
    with ExitStack() as stack:
        yield {
            f"10.0.0.{n}": stack.enter_context(web_client(runtime, client=(f"10.0.0.{n}", 40000)))
            for n in range(1, 10)
        }


def _login(client: TestClient, username: str, password: str) -> httpx2.Response:
    return client.post("/v1/session", json={"username": username, "password": password})


def _check_too_many(response: httpx2.Response, problem: ProblemCheck, retry_after: int) -> None:
    body = problem(response, 429)
    assert body["type"] == "/problems/rate-limited"
    headers = response.headers
    assert headers["retry-after"] == str(retry_after)
    assert "set-cookie" not in headers


# --- logins ------------------------------------------------------------------------------------


def test_a_login_flood_for_one_username_slows_the_owner_but_never_refuses_the_right_password(
    clients: dict[str, TestClient],
    runtime: Runtime,
    clock: FakeClock,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    """Per (name, address) a guesser is refused; per name everyone is only slowed: the flood
    comes from three addresses, the owner logs in from a fourth after the slow-down."""
    make_user(runtime, "bob")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        problem(_login(clients[address], "alice", WRONG), 401)
    started = time.monotonic()
    assert _login(clients["10.0.0.4"], "alice", PASSWORD).status_code == 200
    assert time.monotonic() - started >= runtime.sessions.limits.delay > 0
    problem(_login(clients["10.0.0.4"], "ALICE", WRONG), 401)  # slowed, then answered
    # Another account is not slowed by alice's flood.
    started = time.monotonic()
    assert _login(clients["10.0.0.5"], "bob", PASSWORD).status_code == 200
    assert time.monotonic() - started < runtime.sessions.limits.delay
    clock.advance(seconds=61)
    started = time.monotonic()
    assert _login(clients["10.0.0.6"], "alice", PASSWORD).status_code == 200
    assert time.monotonic() - started < runtime.sessions.limits.delay
    assert len(events(runtime, "session.login_failed")) == LIMIT + 1


def test_a_guesser_is_refused_per_name_and_address_and_the_owner_elsewhere_is_not(
    clients: dict[str, TestClient],
    clock: FakeClock,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    client = clients["10.0.0.1"]
    for _ in range(LIMIT):
        problem(_login(client, "alice", WRONG), 401)
    before = db_rows()
    _check_too_many(_login(client, "alice", PASSWORD), problem, 60)
    _check_too_many(_login(client, "Alice", WRONG), problem, 60)
    assert db_rows() == before  # a refused attempt is not even checked, nor logged
    assert _login(clients["10.0.0.2"], "alice", PASSWORD).status_code == 200
    problem(_login(client, "nobody", WRONG), 401)  # another name from the same address
    clock.advance(seconds=61)
    assert _login(client, "alice", PASSWORD).status_code == 200


def test_a_flood_of_unknown_tokens_does_not_refuse_a_login_from_the_same_address(
    clients: dict[str, TestClient], alice: UserRecord, problem: ProblemCheck
) -> None:
    """Behind a shared proxy or NAT one address is many people: the token scanner among them
    is refused, the person logging in with the right password is not."""
    client = clients["10.0.0.1"]
    for _ in range(LIMIT):
        check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    _check_too_many(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem, 60)
    assert _login(client, "alice", PASSWORD).status_code == 200


def test_a_right_password_before_the_limit_logs_in_at_once(
    clients: dict[str, TestClient], alice: UserRecord, problem: ProblemCheck
) -> None:
    client = clients["10.0.0.1"]
    for _ in range(LIMIT - 1):
        problem(_login(client, "alice", WRONG), 401)
    response = _login(client, "alice", PASSWORD)
    assert response.status_code == 200
    assert "retry-after" not in response.headers


# --- bearer tokens -----------------------------------------------------------------------------


def test_invalid_bearer_tokens_from_one_address_are_429_after_the_limit_then_recover(
    clients: dict[str, TestClient],
    clock: FakeClock,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    client = clients["10.0.0.1"]
    guesses = [UNKNOWN_TOKEN, BAD_CHECKSUM, "twu_short"]
    for guess in guesses:
        check_invalid_token(client.get("/v1/self", headers=bearer(guess)), problem)
    before = db_rows()
    _check_too_many(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem, 60)
    _check_too_many(client.get("/v1/policy", headers=bearer(UNKNOWN_TOKEN)), problem, 60)
    clock.advance(seconds=30)
    _check_too_many(client.get("/v1/tokens", headers=bearer(BAD_CHECKSUM)), problem, 30)
    assert except_events(db_rows()) == except_events(before)
    # The limit is per address: another client's guess is only a 401.
    check_invalid_token(clients["10.0.0.2"].get("/v1/self", headers=bearer(BAD_CHECKSUM)), problem)
    clock.advance(seconds=31)
    check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    assert client.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200


def test_dead_tokens_are_always_told_they_are_dead_and_never_count(
    clients: dict[str, TestClient],
    runtime: Runtime,
    clock: FakeClock,
    alice: UserRecord,
    problem: ProblemCheck,
) -> None:
    """Revoked, expired, rotated out, owner deactivated: the holder of the real secret gets
    401 invalid_token (and renews) from an address that is over its limit, however often."""
    client = clients["10.0.0.1"]
    dead = _dead_tokens(runtime, alice, clock)
    for _ in range(LIMIT):
        check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    _check_too_many(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem, 60)
    for _ in range(LIMIT + 1):
        for secret in dead:
            body = problem(
                client.get("/v1/self", headers=bearer(secret)), 401, error="invalid_token"
            )
            assert "retry-after" not in client.get("/v1/self", headers=bearer(secret)).headers
            assert body["status"] == 401
    # Dead tokens did not count: a fresh address spends its whole limit on unknown values.
    other = clients["10.0.0.2"]
    for _ in range(LIMIT * 2):
        for secret in dead:
            problem(other.get("/v1/self", headers=bearer(secret)), 401, error="invalid_token")
    check_invalid_token(other.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)


def _dead_tokens(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> list[str]:
    """The secrets of a revoked, an expired, a rotated-out token and one of a deactivated
    owner."""
    revoked = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(revoked.record.id, by=TEST_ACTOR, owner_id=None)
    expiring = make_token(runtime, alice, "expiring", expires_in_days=1)
    rotated = make_token(runtime, alice, "rotated")
    runtime.tokens.rotate(rotated.record.id, owner_id=None, by=TEST_ACTOR, grace=timedelta(0))
    carol = make_user(runtime, "carol")
    orphan = make_token(runtime, carol, "carol's")
    runtime.accounts.deactivate(carol.id, TEST_ACTOR)
    clock.advance(days=8)  # past the expiry, and past any rotation's grace (7 days at most)
    return [revoked.secret, expiring.secret, rotated.secret, orphan.secret]


def test_successful_requests_are_not_slowed_and_do_not_count_toward_the_limit(
    clients: dict[str, TestClient], alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    client = clients["10.0.0.1"]
    for _ in range(LIMIT - 1):
        check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    for _ in range(10):
        response = client.get("/v1/self", headers=bearer(alice_token.secret))
        assert response.status_code == 200
        assert "retry-after" not in response.headers
    check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    _check_too_many(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem, 60)


def test_a_valid_token_from_a_limited_address_is_still_served(
    clients: dict[str, TestClient], alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    """Only failures are refused: the address's own valid token is never slowed."""
    client = clients["10.0.0.1"]
    for _ in range(LIMIT):
        check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    _check_too_many(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem, 60)
    for path in ("/v1/self", "/v1/tokens", "/v1/policy"):
        response = client.get(path, headers=bearer(alice_token.secret))
        assert response.status_code == 200, path
        assert "retry-after" not in response.headers


def test_requests_without_a_credential_never_count_as_failures(
    clients: dict[str, TestClient], problem: ProblemCheck
) -> None:
    client = clients["10.0.0.1"]
    for _ in range(LIMIT * 3):
        assert client.get("/v1/policy").status_code == 200
        problem(client.get("/v1/self"), 401)
        stale = {"Cookie": "tw_session=tws_" + "0" * 49}
        # A dead cookie is refused on the API (issue 17.4), but it guesses nothing: not counted.
        problem(client.get("/v1/policy", headers=stale), 401)
    # The address still has all of its failures to spend.
    for _ in range(LIMIT):
        check_invalid_token(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem)
    _check_too_many(client.get("/v1/self", headers=bearer(UNKNOWN_TOKEN)), problem, 60)
