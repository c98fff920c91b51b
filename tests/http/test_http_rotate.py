"""``POST /v1/tokens/{id}/rotate``: the successor in the create shape, the old secret working
through its grace and refused after it, and every refusal leaving everything as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from admin_support import admin_key, bearer, check_invalid_token, events, fields_of
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.domain.scopes import TOKENS_READ, TOKENS_WRITE
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import FakeClock, make_token, make_user

ProblemCheck = Callable[..., dict[str, Any]]
Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]
CREATE_KEYS = {"id", "token", "label", "scopes", "created_at", "expires_at", "hint"}


def _rotate(client: TestClient, caller: CreatedToken, token_id: str, **body: Any) -> Any:
    return client.post(f"/v1/tokens/{token_id}/rotate", json=body, headers=bearer(caller.secret))


def test_rotation_answers_201_with_the_new_secret_and_the_rotation(
    client: TestClient, alice_token: CreatedToken, clock: FakeClock
) -> None:
    response = _rotate(client, alice_token, alice_token.record.id, grace_seconds=3600)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body.keys() == CREATE_KEYS | {"rotated_from", "grace_until", "grace_seconds"}
    assert (body["label"], body["rotated_from"], body["grace_seconds"]) == (
        "alice's laptop",
        alice_token.record.id,
        3600,
    )
    assert body["grace_until"] == "2026-01-08T12:00:00.000Z"  # the 7-day cap until first use
    new = bearer(body["token"])
    assert client.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200
    assert client.get("/v1/self", headers=new).json()["id"] == body["id"]
    listed = client.get(f"/v1/tokens/{alice_token.record.id}", headers=new).json()
    assert listed["rotated_to"] == body["id"]
    assert listed["grace_until"] == "2026-01-01T13:00:00.000Z"  # started by that first use


def test_without_a_body_the_grace_is_zero(
    client: TestClient, alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    response = client.post(
        f"/v1/tokens/{alice_token.record.id}/rotate", headers=bearer(alice_token.secret)
    )
    assert response.status_code == 201, response.text
    assert response.json()["grace_seconds"] == 0
    assert client.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200
    assert client.get("/v1/self", headers=bearer(response.json()["token"])).status_code == 200
    check_invalid_token(client.get("/v1/self", headers=bearer(alice_token.secret)), problem)


def test_the_old_secret_is_refused_after_its_grace_and_its_reuse_is_recorded(
    client: TestClient,
    runtime: Runtime,
    alice_token: CreatedToken,
    clock: FakeClock,
    problem: ProblemCheck,
) -> None:
    new = _rotate(client, alice_token, alice_token.record.id, grace_seconds=60).json()
    assert client.get("/v1/self", headers=bearer(new["token"])).status_code == 200
    clock.advance(seconds=59)
    assert client.get("/v1/policy", headers=bearer(alice_token.secret)).status_code == 200
    clock.advance(seconds=1)
    for path in ("/v1/self", "/v1/policy"):  # anonymous endpoints too (P2)
        check_invalid_token(client.get(path, headers=bearer(alice_token.secret)), problem)
    runtime.alarms.flush_reuse()  # (the flusher may have reported the first one already)
    (reuse,) = events(runtime, "token.reuse_detected")  # two uses within a minute: one event
    assert reuse.subject == alice_token.record.id
    assert reuse.details["user_id"] == alice_token.record.user_id
    listed = client.get("/v1/tokens", headers=bearer(new["token"])).json()["items"]
    assert {t["id"]: t["status"] for t in listed}[alice_token.record.id] == "expired"


@pytest.mark.parametrize(
    "body",
    [
        {"grace_seconds": -1},
        {"grace_seconds": 604801},
        {"grace_seconds": "60"},
        {"grace_seconds": True},
        {"grace_seconds": 1.5},
    ],
)
def test_a_bad_grace_is_422_naming_the_field_and_changes_nothing(
    client: TestClient,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
    body: dict[str, Any],
) -> None:
    before = db_rows()
    response = client.post(
        f"/v1/tokens/{alice_token.record.id}/rotate", json=body, headers=bearer(alice_token.secret)
    )
    assert fields_of(problem(response, 422)) == ["grace_seconds"]
    assert db_rows() == before


def test_unknown_fields_are_refused(
    client: TestClient, alice_token: CreatedToken, problem: ProblemCheck, db_rows: Rows
) -> None:
    before = db_rows()
    response = _rotate(client, alice_token, alice_token.record.id, grace=60)
    assert fields_of(problem(response, 422)) == ["grace"]
    assert db_rows() == before


def test_a_revoked_token_is_409_and_another_users_404(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
) -> None:
    revoked = make_token(runtime, alice, "old")
    assert (
        client.delete(
            f"/v1/tokens/{revoked.record.id}", headers=bearer(alice_token.secret)
        ).status_code
        == 200
    )
    bobs = make_token(runtime, make_user(runtime, "bob"))
    before = db_rows()
    problem(_rotate(client, alice_token, revoked.record.id), 409)
    problem(_rotate(client, alice_token, bobs.record.id), 404)
    problem(_rotate(client, alice_token, "tok_nonsense"), 404)
    assert db_rows() == before


def test_rotating_twice_is_409_naming_the_newer_token(
    client: TestClient, alice_token: CreatedToken, problem: ProblemCheck, db_rows: Rows
) -> None:
    newer = _rotate(client, alice_token, alice_token.record.id).json()["id"]
    before = db_rows()
    body = problem(_rotate(client, alice_token, alice_token.record.id), 409)
    assert newer in body["detail"]
    assert db_rows() == before


def test_a_token_cannot_mint_a_successor_wider_than_itself(
    client: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck, db_rows: Rows
) -> None:
    narrow = make_token(runtime, alice, "narrow", (TOKENS_WRITE,))
    wide = make_token(runtime, alice, "wide", (TOKENS_READ, TOKENS_WRITE))
    before = db_rows()
    body = problem(_rotate(client, narrow, wide.record.id), 403, error="insufficient_scope")
    assert body["scope"] == TOKENS_READ
    assert db_rows() == before


def test_rotation_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/tokens/{token_id}/rotate"]
    assert "post" in paths["/v1/leaks"]


def test_introspection_and_the_expiry_header_give_the_end_of_the_grace(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken, clock: FakeClock
) -> None:
    """Resource servers cache by ``exp``: it must be the grace's end, or their caches would
    accept the old secret after it (no event marks the moment)."""
    key = admin_key(runtime, make_user(runtime, "root", is_admin=True), "introspect")
    new = _rotate(client, alice_token, alice_token.record.id, grace_seconds=60).json()
    assert client.get("/v1/self", headers=bearer(new["token"])).status_code == 200
    answer = client.post(
        "/v1/introspect", data={"token": alice_token.secret}, headers=bearer(key.secret)
    ).json()
    ends = clock.now().timestamp() + 60
    assert (answer["active"], answer["exp"]) == (True, int(ends))
    old = client.get("/v1/self", headers=bearer(alice_token.secret))
    assert old.headers["tokenward-token-expires"] == "2026-01-01T12:01:00.000Z"


def test_admins_set_the_family_switch_and_a_bad_value_is_422(
    client: TestClient, runtime: Runtime, problem: ProblemCheck
) -> None:
    key = bearer(admin_key(runtime, make_user(runtime, "root", is_admin=True)).secret)
    document = client.get("/v1/admin/policy", headers=key).json()
    assert document["revoke_family_on_reuse"] is False
    bad = client.put(
        "/v1/admin/policy", json={**document, "revoke_family_on_reuse": "on"}, headers=key
    )
    assert fields_of(problem(bad, 422)) == ["revoke_family_on_reuse"]
    good = client.put(
        "/v1/admin/policy", json={**document, "revoke_family_on_reuse": True}, headers=key
    )
    assert good.json()["revoke_family_on_reuse"] is True
    assert runtime.policies.current().revoke_family_on_reuse is True
