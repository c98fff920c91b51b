"""Well-formed Bearer credentials that are not valid: one uniform 401 ``invalid_token`` (RFC 6750
§3.1; promise P2) that is no oracle for which token values exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.domain import tokens as token_format
from tokenward.domain.model import Actor, UserRecord
from tokenward.runtime import Runtime
from tokenward.testing import FakeClock, make_token

EVERY = ["/v1/policy", "/healthz", "/v1/self", "/v1/tokens"]
GENERIC = "The access token is not valid"
EXPIRED = "The access token has expired"
REVOKED = "The access token has been revoked"

ProblemCheck = Callable[..., dict[str, Any]]
Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]


def _flip_one_letter(secret: str) -> str:
    i = next(i for i, c in enumerate(secret) if i >= 4 and c.isalpha())
    return secret[:i] + secret[i].swapcase() + secret[i + 1 :]


def _wrong_checksum(secret: str) -> str:
    last = "1" if secret[-1] != "1" else "2"
    return secret[:-1] + last


def _well_formed_never_issued(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
    return token_format.generate(token_format.TokenKind.USER)


def _expired(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
    secret = make_token(runtime, alice, "short-lived", expires_in_days=1).secret
    clock.advance(days=1, seconds=1)
    return secret


def _revoked(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
    created = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(created.record.id, by=Actor("test"), owner_id=alice.id)
    return created.secret


def _variant_of_live(change: Callable[[str], str]) -> Callable[..., str]:
    def presented(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
        return change(make_token(runtime, alice).secret)

    return presented


def _variant_of_revoked(change: Callable[[str], str]) -> Callable[..., str]:
    """A typo'd copy of a revoked token: it matches no record, so it must not learn 'revoked'."""

    def presented(runtime: Runtime, alice: UserRecord, clock: FakeClock) -> str:
        return change(_revoked(runtime, alice, clock))

    return presented


def _admin_prefix(secret: str) -> str:
    head = "twa_" + secret[4:-6]
    return head + token_format._checksum(head)


# name -> (how to make the presented value, the description it may get)
CASES: dict[str, tuple[Callable[..., str], str]] = {
    "wrong_checksum": (_variant_of_live(_wrong_checksum), GENERIC),
    "unknown_well_formed": (_well_formed_never_issued, GENERIC),
    "expired": (_expired, EXPIRED),
    "revoked": (_revoked, REVOKED),
    "truncated": (_variant_of_live(lambda s: s[:-3]), GENERIC),
    "one_letter_case_flipped": (_variant_of_live(_flip_one_letter), GENERIC),
    "case_flipped": (_variant_of_live(str.swapcase), GENERIC),
    "wrong_prefix": (_variant_of_live(lambda s: "twa_" + s[4:]), GENERIC),
    "foreign_prefix": (_variant_of_live(lambda s: "ghp_" + s[4:]), GENERIC),
    "other_kind_valid_checksum": (_variant_of_live(_admin_prefix), GENERIC),
    "extra_char": (_variant_of_live(lambda s: s + "A"), GENERIC),
    "padded": (_variant_of_live(lambda s: s + "=="), GENERIC),
    "truncated_revoked": (_variant_of_revoked(lambda s: s[:-3]), GENERIC),
    "case_flipped_revoked": (_variant_of_revoked(_flip_one_letter), GENERIC),
    "wrong_checksum_revoked": (_variant_of_revoked(_wrong_checksum), GENERIC),
}


def _present(case: str, runtime: Runtime, alice: UserRecord, clock: FakeClock) -> tuple[str, str]:
    make, description = CASES[case]
    return make(runtime, alice, clock), description


@pytest.mark.parametrize("case", CASES)
def test_an_invalid_token_is_401_invalid_token_on_every_endpoint(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    clock: FakeClock,
    problem: ProblemCheck,
    db_rows: Rows,
    case: str,
) -> None:
    """Anonymous endpoints too: a presented credential is never ignored."""
    presented, description = _present(case, runtime, alice, clock)
    before = db_rows()
    for path in EVERY:
        response = client.get(path, headers={"Authorization": f"Bearer {presented}"})
        body = problem(response, 401, error="invalid_token")
        assert body["detail"] == description, path
        assert response.headers["www-authenticate"] == (
            f'Bearer realm="tokenward", error="invalid_token", error_description="{description}"'
        )
        assert response.headers["cache-control"] == "no-store"
        assert "tokenward-token-expires" not in response.headers
        assert presented[4:] not in response.text
        assert presented[4:] not in response.headers["www-authenticate"]
    assert db_rows() == before


def test_every_invalid_token_gets_the_same_status_header_names_and_body_keys(
    client: TestClient, runtime: Runtime, alice: UserRecord, clock: FakeClock
) -> None:
    """Nothing but the description differs, and only for a real expired or revoked secret."""
    shapes = set()
    for case in CASES:
        presented, _ = _present(case, runtime, alice, clock)
        response = client.get("/v1/policy", headers={"Authorization": f"Bearer {presented}"})
        body = response.json()
        shapes.add(
            (
                response.status_code,
                frozenset(response.headers.keys()),
                frozenset(body),
                body["type"],
                body["title"],
                body["error"],
            )
        )
    assert len(shapes) == 1
    assert next(iter(shapes))[0] == 401


def test_a_token_is_valid_until_its_expiry_and_401_from_that_instant(
    client: TestClient, runtime: Runtime, alice: UserRecord, clock: FakeClock
) -> None:
    """Expiry is checked on every use."""
    secret = make_token(runtime, alice, expires_in_days=1).secret
    auth = {"Authorization": f"Bearer {secret}"}
    clock.advance(days=1, seconds=-1)
    assert client.get("/v1/self", headers=auth).status_code == 200
    clock.advance(seconds=1)
    response = client.get("/v1/self", headers=auth)
    assert response.status_code == 401
    assert response.json()["detail"] == EXPIRED
