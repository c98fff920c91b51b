"""No secret a leak report carries survives it (issue 17, point 3): every stored byte, every
event and both audit exports (JSON and NDJSON) are scanned for every secret the test made."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from admin_support import admin_key, bearer, check_invalid_token, events
from starlette.testclient import TestClient

from backends import stored_bytes
from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.testing import TEST_ACTOR, make_token

ProblemCheck = Callable[..., dict[str, Any]]
ALICE_PASSWORD = "alices-own-password-42"
DEPLOY_PASSWORD = "deploy-hook-password-7"


def test_a_report_with_tokens_and_passwords_in_its_source_keeps_none_of_them(
    client: TestClient,
    runtime: Runtime,
    database_url: str,
    problem: ProblemCheck,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every record any logger writes during the report
    alice = runtime.accounts.create_user("alice", ALICE_PASSWORD, is_admin=True, by=TEST_ACTOR)
    listed, pasted = make_token(runtime, alice, "listed"), make_token(runtime, alice, "pasted")
    pasted_key, auditor = admin_key(runtime, alice), admin_key(runtime, alice, label="audit")
    unknown = generate(TokenKind.USER)
    source = (
        f"https://paste.example/raw/1?token={pasted.secret} with password={ALICE_PASSWORD}\n"
        f"curl -H 'Authorization: Bearer {pasted_key.secret}' "
        f"https://deploy:{DEPLOY_PASSWORD}@ci.example/hook and {unknown}"
    )
    body = {"tokens": [listed.secret], "source": source}
    assert client.post("/v1/leaks", json=body).json() == {"received": 1}

    for dead in (listed, pasted, pasted_key):  # listed or pasted: every one is revoked
        check_invalid_token(client.get("/v1/self", headers=bearer(dead.secret)), problem)
    assert {e.subject for e in events(runtime, "token.leaked")} == {
        listed.record.id,
        pasted.record.id,
        pasted_key.record.id,
    }
    exports = [
        client.get("/v1/admin/audit", headers=bearer(auditor.secret)).text,
        client.get(
            "/v1/admin/audit",
            headers={**bearer(auditor.secret), "Accept": "application/x-ndjson"},
        ).text,
    ]
    assert all("token.leaked" in export for export in exports)
    secrets = [
        listed.secret,
        pasted.secret,
        pasted_key.secret,
        auditor.secret,
        unknown,
        ALICE_PASSWORD,
        DEPLOY_PASSWORD,
    ]
    stored = stored_bytes(database_url)
    audited = "\n".join(repr(event) for event in events(runtime))
    assert caplog.records  # the logs were captured (the report is logged), so this checks them
    for secret in secrets:
        assert secret.encode() not in stored, secret
        assert secret not in audited, secret
        assert secret not in caplog.text, secret
        assert all(secret not in export for export in exports), secret
