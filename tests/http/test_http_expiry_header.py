"""``Tokenward-Token-Expires`` (promise P4): on every authenticated response, the presented token's
expiry in RFC 3339 UTC; never on anonymous or refused ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.domain.scopes import TOKENS_READ
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import make_token

HEADER = "tokenward-token-expires"
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def _bearer(token: CreatedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


def _instant(value: str) -> datetime:
    assert RFC3339_UTC.fullmatch(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/self", 200),
        ("GET", "/v1/policy", 200),
        ("GET", "/healthz", 200),
        ("GET", "/v1/tokens", 200),
        ("GET", "/v1/tokens/{own}", 200),
        ("GET", "/v1/tokens/tok_missing", 404),
        ("GET", "/v1/tokens?limit=0", 422),
        ("POST", "/v1/tokens", 422),
        ("DELETE", "/v1/tokens/{own}", 200),
    ],
)
def test_authenticated_responses_carry_the_tokens_expiry_in_rfc_3339_utc(
    client: TestClient, alice_token: CreatedToken, method: str, path: str, status: int
) -> None:
    response = client.request(
        method, path.format(own=alice_token.record.id), headers=_bearer(alice_token), json={}
    )
    assert response.status_code == status
    assert _instant(response.headers[HEADER]) == alice_token.record.expires_at


def test_the_header_is_in_utc_whatever_offset_the_expiry_was_asked_in(
    client: TestClient, alice_token: CreatedToken
) -> None:
    created = client.post(
        "/v1/tokens",
        json={"label": "offset", "expires_at": "2026-03-01T10:20:30+02:00"},
        headers=_bearer(alice_token),
    ).json()
    response = client.get("/v1/self", headers={"Authorization": f"Bearer {created['token']}"})
    assert response.headers[HEADER].startswith("2026-03-01T08:20:30")
    assert _instant(response.headers[HEADER]) == datetime(2026, 3, 1, 8, 20, 30, tzinfo=UTC)
    assert response.headers[HEADER] == response.json()["expires_at"]


def test_a_403_is_authenticated_too_and_carries_the_header(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    reader = make_token(runtime, alice, "reader", scopes=(TOKENS_READ,), expires_in_days=3)
    response = client.post("/v1/tokens", json={"label": "x"}, headers=_bearer(reader))
    assert response.status_code == 403
    assert _instant(response.headers[HEADER]) == reader.record.expires_at


@pytest.mark.parametrize("path", ["/v1/policy", "/healthz"])
def test_anonymous_responses_carry_no_expiry_header(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert HEADER not in response.headers


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Authorization": "Basic YTpi"}, 401, id="other_scheme"),
        pytest.param({"Authorization": "Bearer "}, 400, id="malformed"),
        pytest.param({"Authorization": "Bearer twu_unknown"}, 401, id="invalid"),
    ],
)
def test_refused_credentials_get_no_expiry_header(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    response = client.get("/v1/policy", headers=headers)
    assert response.status_code == status
    assert HEADER not in response.headers
