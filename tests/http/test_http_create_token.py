"""``POST /v1/tokens``: bad bodies get a problem naming the field and create nothing; only a
caller holding ``tokens:write`` may create, and only scopes it holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.domain.policy import LifetimeRule, Policy
from tokenward.domain.scopes import TOKENS_READ
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import FakeClock, make_token, make_user

ProblemCheck = Callable[..., dict[str, Any]]
Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # FakeClock's start


def _bearer(token: CreatedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body["errors"]}


# body -> the field the 422 must name
INVALID_BODIES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "label_empty": ({"label": ""}, {"label"}),
    "label_whitespace_only": ({"label": " \u00a0  "}, {"label"}),
    "label_101_chars": ({"label": "x" * 101}, {"label"}),
    "label_control_char": ({"label": "ci\x07deploy"}, {"label"}),
    "label_newline": ({"label": "ci\ndeploy"}, {"label"}),
    "label_bidi_override": ({"label": "ci\u202edeploy"}, {"label"}),
    "label_missing": ({"scopes": [TOKENS_READ]}, {"label"}),
    "label_not_a_string": ({"label": 7}, {"label"}),
    "days_zero": ({"label": "a", "expires_in_days": 0}, {"expires_in_days"}),
    "days_negative": ({"label": "a", "expires_in_days": -1}, {"expires_in_days"}),
    "days_366": ({"label": "a", "expires_in_days": 366}, {"expires_in_days"}),
    "days_string": ({"label": "a", "expires_in_days": "7"}, {"expires_in_days"}),
    "days_fraction": ({"label": "a", "expires_in_days": 7.5}, {"expires_in_days"}),
    "days_bool": ({"label": "a", "expires_in_days": True}, {"expires_in_days"}),
    "expires_at_past": ({"label": "a", "expires_at": _at(NOW - timedelta(days=1))}, {"expires_at"}),
    "expires_at_now": ({"label": "a", "expires_at": _at(NOW)}, {"expires_at"}),
    "expires_at_beyond_max": (
        {"label": "a", "expires_at": _at(NOW + timedelta(days=365, seconds=1))},
        {"expires_at"},
    ),
    "expires_at_naive": ({"label": "a", "expires_at": "2026-02-01T00:00:00"}, {"expires_at"}),
    "expires_at_not_a_time": ({"label": "a", "expires_at": "next week"}, {"expires_at"}),
    "days_and_expires_at": (
        {"label": "a", "expires_in_days": 7, "expires_at": _at(NOW + timedelta(days=7))},
        {"expires_in_days", "expires_at"},
    ),
    "days_and_never": (
        {"label": "a", "expires_in_days": 7, "never_expires": True},
        {"expires_in_days", "never_expires"},
    ),
    "expires_at_and_never": (
        {"label": "a", "expires_at": _at(NOW + timedelta(days=7)), "never_expires": True},
        {"expires_at", "never_expires"},
    ),
    "never_expires_forbidden_by_policy": ({"label": "a", "never_expires": True}, {"never_expires"}),
    "never_expires_not_a_bool": ({"label": "a", "never_expires": "yes"}, {"never_expires"}),
    "unknown_scope": ({"label": "a", "scopes": ["root"]}, {"scopes"}),
    "scope_not_held_by_caller": ({"label": "a", "scopes": ["read"]}, {"scopes"}),
    "scopes_not_a_list": ({"label": "a", "scopes": TOKENS_READ}, {"scopes"}),
    "scope_not_a_string": ({"label": "a", "scopes": [1]}, {"scopes.0"}),
    "unknown_field": ({"label": "a", "colour": "red"}, {"colour"}),
    "secret_chosen_by_caller": ({"label": "a", "token": "twu_x"}, {"token"}),
}


@pytest.mark.parametrize(("body", "fields"), INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_an_invalid_body_is_422_naming_the_field_and_creates_nothing(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    alice_token: CreatedToken,
    body: dict[str, Any],
    fields: set[str],
) -> None:
    listed = client.get("/v1/tokens", headers=_bearer(alice_token)).json()
    before = db_rows()
    response = client.post("/v1/tokens", json=body, headers=_bearer(alice_token))
    answer = problem(response, 422)
    named = _fields(answer)
    assert named and named <= fields
    assert all(field in answer["detail"] for field in named)
    assert alice_token.secret not in response.text
    assert "cache-control" not in response.headers
    assert db_rows() == before
    assert client.get("/v1/tokens", headers=_bearer(alice_token)).json() == listed


# raw request -> (status, field named)
BAD_REQUESTS: dict[str, tuple[dict[str, Any], int, str]] = {
    "malformed_json": (
        {"content": b'{"label": "a",', "headers": {"Content-Type": "application/json"}},
        400,
        "body",
    ),
    "not_utf8": (
        {"content": b'{"label": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}},
        400,
        "body",
    ),
    "text_plain": (
        {"content": b'{"label": "a"}', "headers": {"Content-Type": "text/plain"}},
        400,
        "Content-Type",
    ),
    "form_encoded": ({"data": {"label": "a"}}, 400, "Content-Type"),
    "no_body_no_content_type": ({}, 400, "Content-Type"),
}


@pytest.mark.parametrize(
    ("request_args", "status", "field"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_a_body_that_is_not_json_is_400_naming_what_is_wrong_and_creates_nothing(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    alice_token: CreatedToken,
    request_args: dict[str, Any],
    status: int,
    field: str,
) -> None:
    request_args = dict(request_args)  # the parameter is shared by every run of the test
    headers = {**request_args.pop("headers", {}), **_bearer(alice_token)}
    before = db_rows()
    response = client.post("/v1/tokens", headers=headers, **request_args)
    answer = problem(response, status)
    assert [error["field"] for error in answer["errors"]] == [field]
    assert db_rows() == before


@pytest.mark.parametrize("content", [b"", b"[]", b"null", b'"label"', b"42"])
def test_a_json_body_that_is_not_an_object_is_refused_naming_the_body(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    alice_token: CreatedToken,
    content: bytes,
) -> None:
    before = db_rows()
    response = client.post(
        "/v1/tokens",
        content=content,
        headers={"Content-Type": "application/json", **_bearer(alice_token)},
    )
    answer = problem(response, 422)
    assert _fields(answer) == {"body"}
    assert db_rows() == before


# --- who may create ----------------------------------------------------------------------------

# Bodies good and bad: who may create is decided before the body is looked at.
ANY_BODY = pytest.mark.parametrize(
    "request_args",
    [
        pytest.param({"json": {"label": "ok"}}, id="valid_body"),
        pytest.param({"json": {"label": ""}}, id="invalid_body"),
        pytest.param(
            {"content": b"{", "headers": {"Content-Type": "application/json"}},
            id="malformed_json",
        ),
        pytest.param(
            {"content": b"label=a", "headers": {"Content-Type": "text/plain"}},
            id="wrong_content_type",
        ),
    ],
)


@ANY_BODY
def test_without_a_credential_creation_is_401_whatever_the_body(
    client: TestClient, problem: ProblemCheck, db_rows: Rows, request_args: dict[str, Any]
) -> None:
    """Authentication comes first: an anonymous caller learns nothing about the body rules."""
    before = db_rows()
    response = client.post("/v1/tokens", **request_args)
    problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="tokenward"'
    assert db_rows() == before


@ANY_BODY
def test_a_token_without_tokens_write_gets_403_insufficient_scope_and_creates_nothing(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: Rows,
    request_args: dict[str, Any],
) -> None:
    reader = make_token(runtime, alice, "read only", scopes=(TOKENS_READ,))
    request_args = dict(request_args)  # the parameter is shared by every run of the test
    headers = {**request_args.pop("headers", {}), **_bearer(reader)}
    before = db_rows()
    response = client.post("/v1/tokens", headers=headers, **request_args)
    body = problem(response, 403, error="insufficient_scope")
    assert body["scope"] == "tokens:write"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="tokenward", error="insufficient_scope"')
    assert challenge.endswith('scope="tokens:write"')
    assert db_rows() == before


def test_a_token_without_tokens_read_gets_403_on_the_list(
    client: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    writer_only = make_token(runtime, alice, "write only", scopes=("tokens:write",))
    response = client.get("/v1/tokens", headers=_bearer(writer_only))
    assert problem(response, 403, error="insufficient_scope")["scope"] == "tokens:read"
    assert response.headers["www-authenticate"].endswith('scope="tokens:read"')


# --- what a good request gets ------------------------------------------------------------------


def test_a_created_token_is_answered_201_once_with_no_store_and_works(
    client: TestClient, alice_token: CreatedToken, db_rows: Rows
) -> None:
    """Also the control for the tests above: a successful create does change the rows."""
    before = db_rows()
    response = client.post(
        "/v1/tokens",
        json={"label": "ci deploy", "expires_in_days": 30, "scopes": [TOKENS_READ]},
        headers=_bearer(alice_token),
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert created.keys() == {"id", "token", "label", "scopes", "created_at", "expires_at", "hint"}
    assert created["expires_at"] == "2026-01-31T12:00:00.000Z"
    assert created["scopes"] == [TOKENS_READ]
    assert db_rows() != before
    me = client.get("/v1/self", headers={"Authorization": f"Bearer {created['token']}"})
    assert me.json()["id"] == created["id"]
    listed = client.get(f"/v1/tokens/{created['id']}", headers=_bearer(alice_token))
    assert created["token"] not in listed.text


def test_a_missing_expiry_gets_the_policy_default_and_an_expiry_at_the_maximum_is_accepted(
    client: TestClient, alice_token: CreatedToken
) -> None:
    default = client.post("/v1/tokens", json={"label": "d"}, headers=_bearer(alice_token))
    at_limit = _at(NOW + timedelta(days=365))
    limit = client.post(
        "/v1/tokens", json={"label": "m", "expires_at": at_limit}, headers=_bearer(alice_token)
    )
    assert default.json()["expires_at"] == "2026-04-01T12:00:00.000Z"  # 90 days
    assert limit.status_code == 201
    assert limit.json()["expires_at"] == "2027-01-01T12:00:00.000Z"


def test_never_expires_is_accepted_where_policy_allows_and_the_header_says_never(
    app_over: Callable[..., tuple[Runtime, TestClient]],
) -> None:
    rule = LifetimeRule(default_days=90, max_days=365, allow_no_expiry=True)
    runtime, client = app_over(policy=Policy(user_token=rule))
    caller = make_token(runtime, make_user(runtime))
    response = client.post(
        "/v1/tokens", json={"label": "forever", "never_expires": True}, headers=_bearer(caller)
    )
    assert response.status_code == 201
    assert response.json()["expires_at"] is None
    me = client.get("/v1/self", headers={"Authorization": f"Bearer {response.json()['token']}"})
    assert me.headers["tokenward-token-expires"] == "never"


def test_an_expired_calling_token_cannot_create(
    client: TestClient, clock: FakeClock, alice_token: CreatedToken, db_rows: Rows
) -> None:
    """The calling token's own expiry is enforced on the write path too."""
    clock.advance(days=91)
    before = db_rows()
    response = client.post("/v1/tokens", json={"label": "late"}, headers=_bearer(alice_token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert db_rows() == before
