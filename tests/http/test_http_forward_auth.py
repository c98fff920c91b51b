"""``/v1/forward-auth``, the gateways' question: the same verify path and the same answers as
``GET /v1/self`` (challenge, cache, failure limits), the policy a gateway location states in
its headers, and the caller's identity in ``Tokenward-*`` headers for the upstream."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from admin_support import BARE_CHALLENGE, log_in, web_client
from starlette.testclient import TestClient

from tokenward.domain import tokens as token_format
from tokenward.domain.model import Actor, UserRecord
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import FakeClock, make_token

PATH = "/v1/forward-auth"
IDENTITY = [
    "tokenward-user",
    "tokenward-user-id",
    "tokenward-token-id",
    "tokenward-scopes",
    "tokenward-token-expires",
]
ProblemCheck = Callable[..., dict[str, Any]]


def _bearer(secret: str, **policy: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **policy}


def _read(runtime: Runtime, alice: UserRecord) -> CreatedToken:
    return make_token(runtime, alice, "reader", scopes=("read",))


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
def test_a_valid_token_is_200_with_its_identity_for_any_method_and_the_body_unread(
    client: TestClient, runtime: Runtime, alice: UserRecord, method: str
) -> None:
    token = make_token(runtime, alice, scopes=("read", "write"))
    answer = client.request(method, PATH, headers=_bearer(token.secret), content=b"x" * 10_000)
    assert answer.status_code == 200
    assert answer.content == b""
    found = {name: answer.headers[name] for name in IDENTITY}
    me = client.get("/v1/self", headers=_bearer(token.secret))
    assert found == {
        "tokenward-user": "alice",
        "tokenward-user-id": alice.id,
        "tokenward-token-id": token.record.id,
        "tokenward-scopes": "read write",
        "tokenward-token-expires": me.headers["tokenward-token-expires"],
    }
    assert answer.headers["cache-control"] == "no-store"


def test_an_anonymous_request_passes_without_identity_where_the_location_allows_it(
    client: TestClient,
) -> None:
    for policy in ({}, {"Tokenward-Require-Token": "false"}, {"Tokenward-Require-Scope": ""}):
        answer = client.get(PATH, headers=policy)
        assert answer.status_code == 200, policy
        assert not set(IDENTITY) & set(answer.headers), policy


@pytest.mark.parametrize(
    "policy",
    [{"Tokenward-Require-Token": "true"}, {"Tokenward-Require-Token": "TRUE"}],
)
def test_a_missing_token_where_one_is_required_is_401_with_the_bare_challenge(
    client: TestClient, problem: ProblemCheck, policy: dict[str, str]
) -> None:
    answer = client.get(PATH, headers=policy)
    problem(answer, 401)
    assert answer.headers["www-authenticate"] == BARE_CHALLENGE


def _expired(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
    secret = make_token(runtime, alice, "short", expires_in_days=1).secret
    clock.advance(days=1, seconds=1)
    return secret


def _revoked(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
    created = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(created.record.id, by=Actor("test"), owner_id=alice.id)
    return created.secret


DEAD: dict[str, Callable[[Runtime, UserRecord, FakeClock], str]] = {
    "expired": _expired,
    "revoked": _revoked,
    "unknown": lambda *_: token_format.generate(token_format.TokenKind.USER),
    "typo": lambda *_: "twu_" + "x" * 49,
}


@pytest.mark.parametrize("dead", DEAD)
def test_a_dead_token_is_401_as_on_v1_self_also_where_anonymous_passes(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    clock: FakeClock,
    problem: ProblemCheck,
    dead: str,
) -> None:
    secret = DEAD[dead](runtime, alice, clock)
    answer = client.get(PATH, headers=_bearer(secret))
    problem(answer, 401, error="invalid_token")
    me = client.get("/v1/self", headers=_bearer(secret))
    assert answer.headers["www-authenticate"] == me.headers["www-authenticate"]
    assert answer.json() == me.json()
    assert not set(IDENTITY) & set(answer.headers)


def test_another_scheme_is_401_with_the_bare_challenge_never_anonymous(
    client: TestClient, problem: ProblemCheck
) -> None:
    answer = client.get(PATH, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    problem(answer, 401)
    assert answer.headers["www-authenticate"] == BARE_CHALLENGE


def test_a_token_without_a_required_scope_is_403_naming_every_scope_it_lacks(
    client: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    reader = _read(runtime, alice)
    allowed = client.get(
        PATH, headers=_bearer(reader.secret, **{"Tokenward-Require-Scope": "read"})
    )
    assert allowed.status_code == 200
    policy = {"Tokenward-Require-Scope": "read write admin"}
    answer = client.get(PATH, headers=_bearer(reader.secret, **policy))
    body = problem(answer, 403, error="insufficient_scope")
    assert body["scope"] == "write admin"
    assert 'scope="write admin"' in answer.headers["www-authenticate"]


def test_repeated_policy_headers_add_up_and_a_scope_requires_a_token(
    client: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    reader = _read(runtime, alice)
    twice = [("Tokenward-Require-Scope", "read"), ("Tokenward-Require-Scope", "write")]
    headers = [("Authorization", f"Bearer {reader.secret}"), *twice]
    refused = problem(client.get(PATH, headers=headers), 403, error="insufficient_scope")
    assert refused["scope"] == "write"
    anonymous = client.get(PATH, headers={"Tokenward-Require-Scope": "read"})
    problem(anonymous, 401)
    assert anonymous.headers["www-authenticate"] == BARE_CHALLENGE


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
        [("Authorization", "Bearer ")],
        [("Tokenward-Require-Token", "yes")],
        [("Tokenward-Require-Scope", 'read "write"')],
    ],
    ids=["two-authorization-headers", "empty-bearer", "require-token-not-boolean", "bad-scope"],
)
def test_a_malformed_request_is_400_invalid_request(
    client: TestClient, problem: ProblemCheck, headers: list[tuple[str, str]]
) -> None:
    problem(client.get(PATH, headers=headers), 400, error="invalid_request")


def test_a_token_in_the_query_string_is_400_as_everywhere(
    client: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    secret = make_token(runtime, alice).secret
    problem(client.get(f"{PATH}?access_token={secret}"), 400, error="invalid_request")


def test_a_session_cookie_is_not_a_credential_for_the_gateway(
    runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    with web_client(runtime) as web:
        session = log_in(web, "alice")
        required = web.get(PATH, headers={**session.cookie, "Tokenward-Require-Token": "true"})
        problem(required, 401)
        dead = {"Cookie": f"tw_session={token_format.generate(token_format.TokenKind.SESSION)}"}
        assert web.get(PATH, headers=dead).status_code == 200  # ignored: anonymous


@pytest.fixture
def warm(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> Iterator[Callable[[], CreatedToken]]:
    """A token verified until the fresh cache holds it."""

    def make() -> CreatedToken:
        token = _read(runtime, alice)
        for _ in range(50):
            hits = runtime.cache.hits
            assert client.get(PATH, headers=_bearer(token.secret)).status_code == 200
            if runtime.cache.hits > hits:
                return token
        raise AssertionError("the token never became a cache hit")

    yield make


def test_a_cached_token_is_answered_on_the_event_loop_without_a_store_read(
    client: TestClient,
    runtime: Runtime,
    warm: Callable[[], CreatedToken],
    lookups: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = warm()

    def no_thread(*_: object) -> None:
        raise AssertionError("a cache hit went to a worker thread")

    monkeypatch.setattr(runtime.authenticator, "in_thread", no_thread)
    hits, reads = runtime.cache.hits, lookups["lookup"]
    policy = {"Tokenward-Require-Scope": "read"}
    for _ in range(3):
        assert client.get(PATH, headers=_bearer(token.secret, **policy)).status_code == 200
    assert runtime.cache.hits == hits + 3
    assert lookups["lookup"] == reads


def test_a_revoked_cached_token_is_refused_at_once(
    client: TestClient, runtime: Runtime, alice: UserRecord, warm: Callable[[], CreatedToken]
) -> None:
    token = warm()
    runtime.tokens.revoke(token.record.id, by=Actor("test"), owner_id=alice.id)
    answer = client.get(PATH, headers=_bearer(token.secret))
    assert answer.status_code == 401
    assert "revoked" in answer.headers["www-authenticate"]


def test_failed_credentials_count_toward_the_same_limit_as_everywhere(
    app_over: Callable[..., tuple[Runtime, TestClient]], problem: ProblemCheck
) -> None:
    _, limited = app_over(failed_auth_per_minute=2)
    unknown = _bearer(token_format.generate(token_format.TokenKind.USER))
    assert [limited.get(PATH, headers=unknown).status_code for _ in range(2)] == [401, 401]
    problem(limited.get(PATH, headers=unknown), 429)
    problem(limited.get("/v1/self", headers=unknown), 429)  # one count for both


def test_the_openapi_document_describes_forward_auth(client: TestClient) -> None:
    operations = client.get("/openapi.json").json()["paths"][PATH]
    assert {"get", "post"} <= operations.keys()
    assert {"200", "401", "403", "400", "503"} <= operations["get"]["responses"].keys()
