"""The verify hot path (a cached token, one plain ``Bearer`` header) answers exactly as the full
check would: it only skips work for a token the fresh cache already vouches for."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import FakeClock


def _warm(client: TestClient, runtime: Runtime, token: CreatedToken) -> None:
    """Verify ``token`` once (a miss, which fills the cache) and check the next is a hit."""
    deadline = time.monotonic() + 5
    while True:
        hits = runtime.cache.hits
        assert client.get("/v1/self", headers=_bearer(token)).status_code == 200
        if runtime.cache.hits > hits:
            return
        assert time.monotonic() < deadline, "the token never became a cache hit"


def _bearer(token: CreatedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


def test_a_cached_token_is_served_and_each_request_counts_one_hit_or_one_miss(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    misses = runtime.cache.misses
    assert client.get("/v1/self", headers=_bearer(alice_token)).status_code == 200
    assert runtime.cache.misses == misses + 1  # the first try of the hot path is not counted
    _warm(client, runtime, alice_token)
    hits = runtime.cache.hits
    answer = client.get("/v1/self", headers=_bearer(alice_token))
    assert answer.status_code == 200
    assert answer.json()["id"] == alice_token.record.id
    assert "tokenward-token-expires" in answer.headers
    assert runtime.cache.hits == hits + 1


def test_a_cached_token_records_its_use_and_the_client_address(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken, clock: FakeClock
) -> None:
    _warm(client, runtime, alice_token)
    clock.advance(seconds=30)
    client.get("/v1/self", headers=_bearer(alice_token))
    seen = runtime.usage.overlay(alice_token.record)
    assert seen.last_used_at == clock.now()
    assert seen.last_used_from == "testclient"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ("twice", ""),  # RFC 6750 §2: one credential a request
        ("once", "?access_token=x"),  # §2.3 URI tokens are refused outright
    ],
)
def test_a_cached_token_in_a_malformed_request_is_still_refused_400(
    client: TestClient,
    runtime: Runtime,
    alice_token: CreatedToken,
    headers: str,
    query: str,
) -> None:
    _warm(client, runtime, alice_token)
    value = f"Bearer {alice_token.secret}"
    raw = [("authorization", value)] * (2 if headers == "twice" else 1)
    answer = client.get(f"/v1/self{query}", headers=raw)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_a_cached_token_past_its_expiry_is_401_expired(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken, clock: FakeClock
) -> None:
    _warm(client, runtime, alice_token)
    clock.advance(days=91)
    answer = client.get("/v1/self", headers=_bearer(alice_token))
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The access token has expired"


def test_a_cached_token_revoked_is_401(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    _warm(client, runtime, alice_token)
    assert client.delete(f"/v1/tokens/{alice_token.record.id}", headers=_bearer(alice_token))
    answer = client.get("/v1/self", headers=_bearer(alice_token))
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_a_value_one_character_off_a_cached_token_is_401_not_valid(
    client: TestClient, runtime: Runtime, alice_token: CreatedToken
) -> None:
    _warm(client, runtime, alice_token)
    secret = alice_token.secret
    other = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    answer = client.get("/v1/self", headers={"Authorization": f"Bearer {other}"})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The access token is not valid"
