"""Secrets are shown once (the 201 of a create) and nowhere else: not in an error body, not in the
database file, not in a log record (promise P5)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from backends import stored_bytes
from tokenward.domain.model import UserRecord
from tokenward.domain.scopes import TOKENS_READ
from tokenward.domain.tokens import TokenKind, generate
from tokenward.http.access_log import redacted
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import make_token, make_user

# The test client logs each request's full URL itself; it is the caller, not the server.
CLIENT_LOGGERS = ("httpx", "httpx2")


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _secret_part(secret: str) -> str:
    """What follows the displayed hint (``twu_AbC1…``): any copy of it is a leak."""
    return secret[8:]


def _misuse(client: TestClient, secret: str, caller: str) -> list[Any]:
    """Every way a careless client can put a secret where it does not belong."""
    body = secret.encode()
    return [
        client.get(f"/v1/self?access_token={secret}"),
        client.get(f"/v1/policy?access%5Ftoken={secret}"),
        client.get(f"/v1/tokens/{secret}", headers=_bearer(caller)),
        client.delete(f"/v1/tokens/{secret}", headers=_bearer(caller)),
        client.get(f"/v1/{secret}"),
        client.get("/v1/self", headers=[(b"authorization", b"Bearer " + body + b"\t")]),
        client.get("/v1/self", headers=[(b"authorization", b"Bearer " + body + b"!")]),
        client.get("/v1/self", headers=[(b"authorization", b"Basic " + body)]),
        client.get("/v1/self", headers={"Authorization": f"Bearer {secret}{'A' * 10_240}"}),
        client.get("/v1/self", headers=_bearer(secret[:-1])),
        client.get("/v1/self", headers=_bearer(secret.swapcase())),
        client.post("/v1/tokens", json={"label": secret + "\x00"}, headers=_bearer(caller)),
        client.post("/v1/tokens", json={"label": "x", "token": secret}, headers=_bearer(caller)),
        client.post("/v1/tokens", json={"label": "x", "scopes": [secret]}, headers=_bearer(caller)),
        client.get(f"/v1/tokens?cursor={secret}", headers=_bearer(caller)),
        client.get(f"/v1/tokens?status={secret}", headers=_bearer(caller)),
    ]


def test_no_error_answer_contains_a_presented_secret(
    client: TestClient, runtime: Runtime, alice: UserRecord, alice_token: CreatedToken
) -> None:
    victim = make_token(runtime, alice, "victim").secret
    responses = _misuse(client, victim, alice_token.secret)
    assert all(r.status_code >= 400 for r in responses)
    for response in responses:
        headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert _secret_part(victim) not in response.text, response.request.url.path[:20]
        assert _secret_part(victim) not in headers


def test_the_database_file_never_holds_a_secret(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    database_url: str,
) -> None:
    """Through create (service and API), use, failed use, revoke: only digests are stored."""
    secrets = [alice_token.secret, make_token(runtime, make_user(runtime, "bob")).secret]
    created = client.post(
        "/v1/tokens", json={"label": "api", "scopes": [TOKENS_READ]}, headers=_bearer(secrets[0])
    ).json()
    secrets.append(created["token"])
    for secret in secrets:
        assert client.get("/v1/self", headers=_bearer(secret)).status_code == 200
        _misuse(client, secret, alice_token.secret)
    client.delete(f"/v1/tokens/{created['id']}", headers=_bearer(alice_token.secret))
    assert client.get("/v1/self", headers=_bearer(created["token"])).status_code == 401

    stored = stored_bytes(database_url)  # SQLite: the file, its WAL; PostgreSQL: every row
    assert created["id"].encode() in stored  # the control: the bytes hold what was written
    for secret in secrets:
        assert _secret_part(secret).encode() not in stored


def test_no_log_record_holds_a_secret_even_one_sent_in_a_url(
    app_over: Callable[..., tuple[Runtime, TestClient]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runtime, client = app_over(access_log=True)
    alice = make_user(runtime)
    caller = make_token(runtime, alice).secret
    victim = make_token(runtime, alice, "victim").secret
    created = client.post("/v1/tokens", json={"label": "api"}, headers=_bearer(caller)).json()
    client.get("/v1/self", headers=_bearer(created["token"]))
    _misuse(client, victim, caller)
    client.delete(f"/v1/tokens/{created['id']}", headers=_bearer(caller))
    client.get("/v1/policy", headers=_bearer(created["token"]))

    server = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    access = [r.getMessage() for r in server if r.name == "tokenward.access"]
    assert len(access) >= 20  # the control: every request was logged
    assert any("[redacted]" in line for line in access)
    for record in server:
        logged = " ".join([record.getMessage(), record.exc_text or "", str(record.__dict__)])
        for secret in (caller, victim, created["token"]):
            assert _secret_part(secret) not in logged, record.name


def test_the_access_log_redacts_tokens_glued_together_whole() -> None:
    """A path with ``<token><token>``: the second's body is not logged after the first's run
    took its prefix."""
    first, second = generate(TokenKind.USER), generate(TokenKind.USER)
    assert redacted(f"/v1/tokens/{first}{second}/x") == "/v1/tokens/[redacted]/x"
