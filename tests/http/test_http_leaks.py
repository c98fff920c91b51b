"""``POST /v1/leaks``: anyone may report; valid tokens die on the next request; the answer is the
same whatever was reported; reports are limited per address and in size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from admin_support import bearer, check_invalid_token, events, fields_of
from starlette.testclient import TestClient

from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import FakeClock, make_token, make_user

ProblemCheck = Callable[..., dict[str, Any]]
Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]
SOURCE = "https://gist.example/leak"


def _report(client: TestClient, *tokens: str, **headers: str) -> Any:
    return client.post(
        "/v1/leaks", json={"tokens": list(tokens), "source": SOURCE}, headers=headers
    )


def test_a_reported_token_is_refused_on_the_next_request(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    assert client.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200
    response = _report(client, alice_token.secret)
    assert (response.status_code, response.json()) == (202, {"received": 1})
    check_invalid_token(client.get("/v1/self", headers=bearer(alice_token.secret)), problem)
    (leaked,) = events(runtime, "token.leaked")
    assert leaked.subject == alice_token.record.id
    assert leaked.details == {
        "token_id": alice_token.record.id,
        "user_id": alice_token.record.user_id,
        "source": SOURCE,
    }


def test_the_answer_is_identical_for_valid_unknown_and_garbage(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    answers = [
        _report(client, value)
        for value in (alice_token.secret, generate(TokenKind.USER), "not a token", "")
    ]
    assert {(a.status_code, a.text, a.headers["content-type"]) for a in answers} == {
        (202, '{"received":1}', "application/json")
    }


def test_an_authenticated_reporter_is_fine_and_an_invalid_credential_is_401(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    bobs = make_token(runtime, make_user(runtime, "bob"))
    assert _report(client, bobs.secret, **bearer(alice_token.secret)).status_code == 202
    check_invalid_token(_report(client, "x", **bearer(bobs.secret)), problem)  # P2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tokens": ["x"] * 101, "source": SOURCE}, "tokens"),
        ({"tokens": ["x" * 1001], "source": SOURCE}, "tokens.0"),
        ({"tokens": "x", "source": SOURCE}, "tokens"),
        ({"tokens": [1], "source": SOURCE}, "tokens.0"),
        ({"tokens": ["x"]}, "source"),
        ({"tokens": ["x"], "source": ""}, "source"),
        ({"tokens": ["x"], "source": SOURCE, "more": 1}, "more"),
    ],
)
def test_a_bad_report_is_422_naming_the_field_and_revokes_nothing(
    client: TestClient,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: Rows,
    body: dict[str, Any],
    field: str,
) -> None:
    if body.get("tokens") == ["x"] * 101:
        body = {**body, "tokens": [alice_token.secret] * 101}
    before = db_rows()
    response = client.post("/v1/leaks", json=body)
    assert fields_of(problem(response, 422)) == [field]
    assert db_rows() == before
    assert client.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200


def test_reports_are_limited_per_client_address(
    app_over: Callable[..., tuple[Runtime, TestClient]], problem: ProblemCheck, clock: FakeClock
) -> None:
    runtime, client = app_over(leak_reports_per_minute=2)
    alice = make_user(runtime)
    token = make_token(runtime, alice)
    assert [_report(client, "x").status_code for _ in range(2)] == [202, 202]
    refused = _report(client, token.secret)
    problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert client.get("/v1/self", headers=bearer(token.secret)).status_code == 200  # not revoked
    clock.advance(minutes=1)
    assert _report(client, token.secret).status_code == 202
