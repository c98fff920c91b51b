"""RFC 7662 introspection and RFC 7009 revocation, exactly as the RFCs and API.md say."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.domain.model import Actor, UserRecord
from tokenward.domain.tokens import TokenKind, generate
from tokenward.http.oauth import MAX_BODY
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, NewToken
from tokenward.store.base import EventQuery
from tokenward.testing import FakeClock, make_token, make_user

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def introspector(runtime: Runtime) -> CreatedToken:
    root = make_user(runtime, "root", is_admin=True)
    request = NewToken(label="resource server", scopes=("introspect",))
    return runtime.tokens.create(root, request, by=Actor("test"), kind=TokenKind.ADMIN)


def _introspect(client: TestClient, caller: str | None, token: str, **extra: Any) -> Any:
    headers = {"Authorization": f"Bearer {caller}"} if caller else {}
    return client.post("/v1/introspect", data={"token": token, **extra}, headers=headers)


def test_an_active_token_is_described_with_the_rfc_7662_members(
    client: TestClient, runtime: Runtime, alice: UserRecord, introspector: CreatedToken
) -> None:
    created = make_token(runtime, alice, scopes=("read", "tokens:read"))
    answer = _introspect(client, introspector.secret, created.secret, token_type_hint="x")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {
        "active": True,
        "scope": "read tokens:read",
        "client_id": created.record.id,
        "username": "alice",
        "sub": alice.id,
        "token_type": "Bearer",
        "exp": int(created.record.expires_at.timestamp()),  # type: ignore[union-attr]
        "iat": int(created.record.created_at.timestamp()),
        "tokenward_id": created.record.id,
    }


def _inactive_cases(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> dict[str, str]:
    revoked = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(revoked.record.id, by=Actor("test"), owner_id=alice.id)
    expired = make_token(runtime, alice, "expired", expires_in_days=1)
    return {
        "unknown": generate(TokenKind.USER),
        "malformed": "not a token at all",
        "empty-ish": "=",
        "revoked": revoked.secret,
        "expired": expired.secret,
    }


def test_anything_not_active_is_active_false_and_nothing_more(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    clock: FakeClock,
    introspector: CreatedToken,
) -> None:
    cases = _inactive_cases(runtime, alice, clock)
    clock.advance(days=1)  # the "expired" one expires; the introspector (7 days) does not
    for name, token in cases.items():
        answer = _introspect(client, introspector.secret, token)
        assert answer.status_code == 200, name
        assert answer.json() == {"active": False}, name


def test_a_deactivated_owners_token_is_inactive(
    client: TestClient, runtime: Runtime, introspector: CreatedToken
) -> None:
    bob = make_user(runtime, "bob")
    created = make_token(runtime, bob)
    runtime.accounts.deactivate(bob.id, Actor("test"))
    assert _introspect(client, introspector.secret, created.secret).json() == {"active": False}


def test_introspection_without_credentials_is_401_and_with_a_user_token_403(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    user_token = make_token(runtime, alice)
    anonymous = _introspect(client, None, user_token.secret)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="tokenward"'
    forbidden = _introspect(client, user_token.secret, user_token.secret)
    assert forbidden.status_code == 403
    assert 'scope="introspect"' in forbidden.headers["www-authenticate"]


def test_an_admin_key_without_the_introspect_scope_is_403(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    root = make_user(runtime, "root", is_admin=True)
    admin_only = runtime.tokens.create(
        root, NewToken(label="a", scopes=("admin",)), by=Actor("t"), kind=TokenKind.ADMIN
    )
    answer = _introspect(client, admin_only.secret, make_token(runtime, alice).secret)
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("request_args", "why"),
    [
        ({"content": "token_type_hint=x", "headers": {"content-type": FORM}}, "token"),
        ({"data": {}}, "x-www-form-urlencoded"),
        ({"data": {"token": ""}}, "token"),
        ({"content": "token=a&token=b", "headers": {"content-type": FORM}}, "token"),
        ({"json": {"token": "x"}}, "x-www-form-urlencoded"),
        ({"content": "token=" + "a" * MAX_BODY, "headers": {"content-type": FORM}}, "too large"),
        ({"content": b"token=\xff", "headers": {"content-type": FORM}}, "valid form"),
    ],
)
def test_a_bad_request_is_400_invalid_request_naming_the_problem(
    client: TestClient, introspector: CreatedToken, request_args: dict[str, Any], why: str
) -> None:
    args = {**request_args}
    headers = {"Authorization": f"Bearer {introspector.secret}", **args.pop("headers", {})}
    for path in ("/v1/introspect", "/v1/revoke"):
        answer = client.post(path, headers=headers, **args)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"] == "invalid_request"
        assert why in answer.json()["error_description"]


def test_revocation_by_possession_revokes_and_is_audited(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    created = make_token(runtime, alice)
    auth = {"Authorization": f"Bearer {created.secret}"}
    assert client.get("/v1/self", headers=auth).status_code == 200
    answer = client.post("/v1/revoke", data={"token": created.secret})
    assert (answer.status_code, answer.text) == (200, "")
    assert answer.headers["cache-control"] == "no-store"
    assert client.get("/v1/self", headers=auth).status_code == 401
    (event,) = runtime.audit.query(EventQuery(type="token.revoked"))
    assert (event.subject, event.actor, event.details["reason"]) == (
        created.record.id,
        "rfc7009",
        "rfc7009",
    )
    again = client.post("/v1/revoke", data={"token": created.secret})
    assert again.status_code == 200
    assert len(runtime.audit.query(EventQuery(type="token.revoked"))) == 1


@pytest.mark.parametrize("token", ["unknown", "malformed"])
def test_revoking_what_is_not_a_token_is_200_and_changes_nothing(
    client: TestClient, runtime: Runtime, alice: UserRecord, token: str
) -> None:
    kept = make_token(runtime, alice)
    value = generate(TokenKind.USER) if token == "unknown" else "twu_nope"
    before = runtime.store.max_seq()
    assert client.post("/v1/revoke", data={"token": value}).status_code == 200
    assert runtime.store.max_seq() == before
    assert (
        client.get("/v1/self", headers={"Authorization": f"Bearer {kept.secret}"}).status_code
        == 200
    )
