"""``/v1/tokens`` and ``/v1/tokens/{id}``: listing, filtering, paging, reading and revoking one's
own tokens; someone else's are 404, never 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.domain.model import Actor, UserRecord
from tokenward.domain.scopes import TOKENS_READ
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import FakeClock, make_token, make_user

ProblemCheck = Callable[..., dict[str, Any]]
Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]
TOKEN_KEYS = {
    "id",
    "label",
    "hint",
    "scopes",
    "status",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "last_used_from",
}


def _bearer(token: CreatedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


def _ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


# --- someone else's token, or none -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_users_token_is_404_not_403_and_keeps_working(
    client: TestClient,
    runtime: Runtime,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
    method: str,
) -> None:
    bobs = make_token(runtime, make_user(runtime, "bob"))
    before = db_rows()
    response = client.request(method, f"/v1/tokens/{bobs.record.id}", headers=_bearer(alice_token))
    problem(response, 404)
    assert "www-authenticate" not in response.headers
    assert bobs.record.id not in response.text
    assert db_rows() == before
    assert client.get("/v1/self", headers=_bearer(bobs)).status_code == 200


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("token_id", ["tok_0000000000000000", "nonsense", "%00", "..%2F..%2Fx"])
def test_a_nonexistent_token_id_is_404_and_changes_nothing(
    client: TestClient,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
    method: str,
    token_id: str,
) -> None:
    before = db_rows()
    response = client.request(method, f"/v1/tokens/{token_id}", headers=_bearer(alice_token))
    problem(response, 404)
    assert db_rows() == before


def test_the_404_for_someone_elses_token_is_the_same_as_for_no_token(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    """The answer does not tell which token ids exist."""
    bobs = make_token(runtime, make_user(runtime, "bob"))
    theirs = client.get(f"/v1/tokens/{bobs.record.id}", headers=_bearer(alice_token))
    nobodys = client.get("/v1/tokens/tok_0000000000000000", headers=_bearer(alice_token))
    assert (theirs.status_code, theirs.json()) == (nobodys.status_code, nobodys.json())


# --- reading one's own -------------------------------------------------------------------------


def test_an_own_token_reads_as_the_api_says_without_its_secret(
    client: TestClient, alice_token: CreatedToken
) -> None:
    response = client.get(f"/v1/tokens/{alice_token.record.id}", headers=_bearer(alice_token))
    assert response.status_code == 200
    item = response.json()
    assert item.keys() >= TOKEN_KEYS
    assert item["status"] == "active"
    assert item["hint"] == alice_token.secret[:8] + "…"
    assert alice_token.secret not in response.text


# --- revoking ----------------------------------------------------------------------------------


def test_revoking_twice_answers_the_same_200_and_changes_nothing_the_second_time(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    clock: FakeClock,
    db_rows: Rows,
) -> None:
    target = make_token(runtime, alice, "to revoke")
    first = client.delete(f"/v1/tokens/{target.record.id}", headers=_bearer(alice_token))
    assert first.status_code == 200
    assert first.json().keys() == {"id", "status", "revoked_at", "effective_by"}
    assert first.json()["status"] == "revoked"
    assert first.json()["revoked_at"] == "2026-01-01T12:00:00.000Z"
    assert first.json()["effective_by"] == "2026-01-01T12:00:01.000Z"  # max_staleness 1 s
    clock.advance(minutes=5)
    before = db_rows()
    second = client.delete(f"/v1/tokens/{target.record.id}", headers=_bearer(alice_token))
    assert (second.status_code, second.json()) == (200, first.json())
    assert db_rows() == before


@pytest.mark.parametrize("path", ["/v1/self", "/v1/policy", "/v1/tokens", "/healthz"])
def test_a_revoked_token_is_401_invalid_token_everywhere_even_anonymous_endpoints(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    path: str,
) -> None:
    target = make_token(runtime, alice, "to revoke")
    assert client.get(path, headers=_bearer(target)).status_code == 200
    client.delete(f"/v1/tokens/{target.record.id}", headers=_bearer(alice_token))
    response = client.get(path, headers=_bearer(target))
    assert problem(response, 401, error="invalid_token")["detail"] == (
        "The access token has been revoked"
    )


def test_a_token_can_revoke_itself_and_is_refused_from_then_on(
    client: TestClient, alice_token: CreatedToken
) -> None:
    response = client.delete(f"/v1/tokens/{alice_token.record.id}", headers=_bearer(alice_token))
    assert response.status_code == 200
    again = client.delete(f"/v1/tokens/{alice_token.record.id}", headers=_bearer(alice_token))
    assert again.status_code == 401


def test_a_token_without_tokens_write_cannot_revoke_and_the_target_still_works(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
) -> None:
    reader = make_token(runtime, alice, "read only", scopes=(TOKENS_READ,))
    before = db_rows()
    response = client.delete(f"/v1/tokens/{alice_token.record.id}", headers=_bearer(reader))
    assert problem(response, 403, error="insufficient_scope")["scope"] == "tokens:write"
    assert response.headers["www-authenticate"].endswith('scope="tokens:write"')
    assert db_rows() == before
    assert client.get("/v1/self", headers=_bearer(alice_token)).status_code == 200


def test_revoking_without_a_credential_is_401_and_the_token_still_works(
    client: TestClient, alice_token: CreatedToken, db_rows: Rows
) -> None:
    before = db_rows()
    response = client.delete(f"/v1/tokens/{alice_token.record.id}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tokenward"'
    assert db_rows() == before
    assert client.get("/v1/self", headers=_bearer(alice_token)).status_code == 200


# --- listing: filters and pages ----------------------------------------------------------------


@pytest.fixture
def three_states(
    runtime: Runtime, alice: UserRecord, alice_token: CreatedToken, clock: FakeClock
) -> dict[str, set[str]]:
    """alice: her caller token and one more active, one expired, one revoked. Ids by status."""
    expired = make_token(runtime, alice, "expired", expires_in_days=1)
    revoked = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(revoked.record.id, by=Actor("test"), owner_id=alice.id)
    clock.advance(days=2)
    active = make_token(runtime, alice, "active")
    make_token(runtime, make_user(runtime, "bob"), "bob's")
    return {
        "active": {alice_token.record.id, active.record.id},
        "expired": {expired.record.id},
        "revoked": {revoked.record.id},
    }


@pytest.mark.parametrize("status", ["active", "expired", "revoked"])
def test_the_status_filter_lists_only_that_status_of_ones_own_tokens(
    client: TestClient, alice_token: CreatedToken, three_states: dict[str, set[str]], status: str
) -> None:
    response = client.get(f"/v1/tokens?status={status}", headers=_bearer(alice_token))
    assert response.status_code == 200
    assert set(_ids(response)) == three_states[status]
    assert {item["status"] for item in response.json()["items"]} == {status}


def test_without_a_filter_every_own_token_is_listed_and_no_one_elses(
    client: TestClient, alice_token: CreatedToken, three_states: dict[str, set[str]]
) -> None:
    response = client.get("/v1/tokens", headers=_bearer(alice_token))
    assert set(_ids(response)) == set().union(*three_states.values())
    assert all(item.keys() >= TOKEN_KEYS for item in response.json()["items"])
    assert response.json()["next_cursor"] is None


def test_walking_every_page_yields_each_token_once_newest_first(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    clock: FakeClock,
) -> None:
    for n in range(6):
        clock.advance(minutes=1)
        make_token(runtime, alice, f"token {n}")
    make_token(runtime, alice, "same instant as token 5")  # a tie on created_at
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v1/tokens{query}", headers=_bearer(alice_token)).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)) == 8
    assert pages == 4
    assert ids[-1] == alice_token.record.id
    created = [item["created_at"] for item in seen]
    assert created == sorted(created, reverse=True)


def test_a_limit_of_exactly_the_number_of_tokens_has_no_next_page(
    client: TestClient, runtime: Runtime, alice: UserRecord, alice_token: CreatedToken
) -> None:
    make_token(runtime, alice, "second")
    page = client.get("/v1/tokens?limit=2", headers=_bearer(alice_token)).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


BAD_QUERIES = {
    "unknown_status": ("status=deleted", "status"),
    "status_wrong_case": ("status=ACTIVE", "status"),
    "limit_zero": ("limit=0", "limit"),
    "limit_201": ("limit=201", "limit"),
    "limit_negative": ("limit=-1", "limit"),
    "limit_not_a_number": ("limit=ten", "limit"),
    "cursor_garbage": ("cursor=!!!not-a-cursor", "cursor"),
    "cursor_base64_of_nonsense": ("cursor=bm9uc2Vuc2U", "cursor"),
    "cursor_naive_time": ("cursor=MjAyNi0wMS0wMVQxMjowMDowMHx0b2tfeA", "cursor"),
    "cursor_too_long": ("cursor=" + "A" * 300, "cursor"),
}


@pytest.mark.parametrize(("query", "field"), BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_a_bad_list_query_is_422_naming_the_parameter(
    client: TestClient,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
    query: str,
    field: str,
) -> None:
    before = db_rows()
    response = client.get(f"/v1/tokens?{query}", headers=_bearer(alice_token))
    body = problem(response, 422)
    assert [error["field"] for error in body["errors"]] == [field]
    assert field in body["detail"]
    assert db_rows() == before
