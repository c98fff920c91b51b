"""Every integer a caller sends is range-checked at the edge, on every backend: a number past
what the store can hold, or below what makes sense, is a 4xx naming the field (422 for a
value), never a 500 from the database, and makes nothing (a failed admin action is still
audited, as every one is)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.domain.model import MAX_SEQ, Actor
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.testing import make_token, make_user

OUT_OF_RANGE = [MAX_SEQ + 1, 2**64, 10**30, -1, -(2**63) - 1]


@pytest.fixture
def headers(runtime: Runtime) -> dict[str, dict[str, str]]:
    root = make_user(runtime, "root", is_admin=True)
    request = NewToken(label="admin", scopes=("admin",))
    key = runtime.tokens.create(root, request, by=Actor("t"), kind=TokenKind.ADMIN).secret
    user_token = make_token(runtime, make_user(runtime, "alice")).secret
    return {
        "admin": {"Authorization": f"Bearer {key}"},
        "user": {"Authorization": f"Bearer {user_token}"},
    }


def _requests(n: int) -> list[tuple[str, str, str, Any, str]]:
    """(method, path, who, JSON body, the field a refusal must name)."""
    return [
        ("GET", f"/v1/admin/audit?after={n}", "admin", None, "after"),
        ("GET", f"/v1/admin/audit?limit={n}", "admin", None, "limit"),
        ("GET", f"/v1/admin/tokens?limit={n}", "admin", None, "limit"),
        ("GET", f"/v1/admin/keys?limit={n}", "admin", None, "limit"),
        ("GET", f"/v1/tokens?limit={n}", "user", None, "limit"),
        ("GET", f"/v1/admin/webhooks/wh_x/deliveries?limit={n}", "admin", None, "limit"),
        ("POST", "/v1/tokens", "user", {"label": "x", "expires_in_days": n}, "expires_in_days"),
        (
            "POST",
            "/v1/admin/keys",
            "admin",
            {"label": "x", "expires_in_days": n},
            "expires_in_days",
        ),
        ("POST", "/v1/tokens/tok_x/rotate", "user", {"grace_seconds": n}, "grace_seconds"),
    ]


@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_an_out_of_range_number_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, runtime: Runtime, headers: dict[str, dict[str, str]], number: int
) -> None:
    tokens_before = _every_token(client, headers["admin"])
    for method, path, who, body, field in _requests(number):
        answer = client.request(method, path, headers=headers[who], json=body)
        assert answer.status_code == 422, (method, path, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        named = [error["field"] for error in answer.json()["errors"]]
        assert any(field in name for name in named), (path, named)
        assert str(number) not in answer.text  # input is never echoed
    assert _every_token(client, headers["admin"]) == tokens_before  # nothing was made


def _every_token(client: TestClient, admin: dict[str, str]) -> list[tuple[str, str]]:
    """(id, status) of every token and key."""
    answer = client.get("/v1/admin/tokens?limit=200", headers=admin)
    assert answer.status_code == 200
    return [(item["id"], item["status"]) for item in answer.json()["items"]]


def test_the_largest_seq_there_can_be_is_accepted(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    answer = client.get(f"/v1/admin/audit?after={MAX_SEQ}", headers=headers["admin"])
    assert answer.status_code == 200
    assert answer.json()["items"] == []


@pytest.mark.parametrize("after", [str(MAX_SEQ + 1), "99999999999999999999", "-1", "1e3"])
def test_the_event_stream_refuses_a_start_it_cannot_hold(
    client: TestClient, runtime: Runtime, after: str
) -> None:
    root = make_user(runtime, "ops", is_admin=True)
    request = NewToken(label="rs", scopes=("introspect",))
    key = runtime.tokens.create(root, request, by=Actor("t"), kind=TokenKind.ADMIN).secret
    answer = client.get(f"/v1/events?after={after}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
