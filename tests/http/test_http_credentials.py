"""How a request's credential is read (RFC 6750 §2, §3; promise P2), on anonymous and protected
endpoints alike: absent, another scheme, malformed, in the query string, oversized.

Each case is one test that asks every endpoint in turn: ``/v1/policy`` and ``/healthz`` allow
anonymous callers, ``/v1/self`` and ``/v1/tokens`` do not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.service import CreatedToken

BARE_CHALLENGE = 'Bearer realm="tokenward"'
ANONYMOUS = ["/v1/policy", "/healthz"]
PROTECTED = ["/v1/self", "/v1/tokens"]
EVERY = ANONYMOUS + PROTECTED
TEN_KB = 10 * 1024

ProblemCheck = Callable[..., dict[str, Any]]
Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]


def _auth(value: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", value)]


def _check_invalid_request(response: Any, problem: ProblemCheck, secret: str) -> None:
    """400 ``invalid_request`` with its challenge, and not a byte of the secret echoed."""
    problem(response, 400, error="invalid_request")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="tokenward", error="invalid_request"')
    assert "error_description=" in challenge
    assert response.headers["cache-control"] == "no-store"
    assert "tokenward-token-expires" not in response.headers
    assert secret[4:] not in response.text
    assert secret[4:] not in challenge


# --- no credential -----------------------------------------------------------------------------


def test_no_authorization_on_an_anonymous_endpoint_is_served_anonymously(
    client: TestClient,
) -> None:
    for path in ANONYMOUS:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json"
        assert "www-authenticate" not in response.headers
        assert "tokenward-token-expires" not in response.headers


def test_no_authorization_on_a_protected_endpoint_is_401_with_a_bare_challenge(
    client: TestClient, problem: ProblemCheck
) -> None:
    for path in PROTECTED:
        response = client.get(path)
        problem(response, 401, error=None)
        assert response.headers["www-authenticate"] == BARE_CHALLENGE, path
        assert response.headers["cache-control"] == "no-store"
        assert "tokenward-token-expires" not in response.headers


# --- another scheme ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [b"Basic YWxpY2U6aHVudGVyMg==", b"Digest username=alice", b"Token abc", b"Basic"]
)
def test_another_scheme_is_401_with_a_bare_challenge_never_anonymous(
    client: TestClient, problem: ProblemCheck, db_rows: Rows, value: bytes
) -> None:
    before = db_rows()
    for path in EVERY:
        response = client.get(path, headers=_auth(value))
        body = problem(response, 401, error=None)
        assert response.headers["www-authenticate"] == BARE_CHALLENGE, path
        assert "tokenward-token-expires" not in response.headers
        assert value.split(b" ")[-1].decode() not in str(body)
    assert db_rows() == before


# --- malformed Bearer headers: 400 invalid_request -----------------------------------------------

# Each is built around a real secret (TOKEN), so a server that read past the flaw would say 200;
# the word is what the description must name, so we know which flaw was seen.
MALFORMED = {
    "bearer_without_token": (b"Bearer", "empty"),
    "bearer_and_spaces": (b"Bearer     ", "empty"),
    "tab_before_token": (b"Bearer\tTOKEN", "control"),
    "tab_inside_value": (b"Bearer TOKEN\tmore", "control"),
    "trailing_tab": (b"Bearer TOKEN\t", "control"),
    "nul_in_value": (b"Bearer TOKEN\x00", "control"),
    "control_char_in_value": (b"Bearer TO\x01KEN", "control"),
    "delete_char_in_value": (b"Bearer TOKEN\x7f", "control"),
    "non_b64token_char": (b"Bearer TOKEN!", "b64token"),
    "non_ascii_char": (b"Bearer TOKEN\xc3\xa9", "b64token"),
    "space_inside_token": (b"Bearer TOKEN TOKEN", "b64token"),
    "empty_value": (b"", "scheme"),
    "no_valid_scheme": (b"(Bearer) TOKEN", "scheme"),
    "over_512_bytes": (b"Bearer TOKEN" + b"A" * 600, "too long"),
}


@pytest.mark.parametrize(("value", "word"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_authorization_header_is_400_invalid_request(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    lookups: Counter[str],
    alice_token: CreatedToken,
    value: bytes,
    word: str,
) -> None:
    presented = value.replace(b"TOKEN", alice_token.secret.encode())
    before = db_rows()
    lookups.clear()
    for path in EVERY:
        response = client.get(path, headers=_auth(presented))
        _check_invalid_request(response, problem, alice_token.secret)
        assert word in response.json()["detail"], path
    assert lookups == Counter()
    assert db_rows() == before


def test_two_authorization_headers_are_400_even_when_both_are_valid(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    lookups: Counter[str],
    alice_token: CreatedToken,
) -> None:
    value = b"Bearer " + alice_token.secret.encode()
    before = db_rows()
    lookups.clear()
    for path in EVERY:
        response = client.get(path, headers=[(b"authorization", value), (b"Authorization", value)])
        _check_invalid_request(response, problem, alice_token.secret)
    assert lookups == Counter()
    assert db_rows() == before


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_name_is_case_insensitive(
    client: TestClient, alice_token: CreatedToken, scheme: str
) -> None:
    for path in EVERY:
        response = client.get(path, headers={"Authorization": f"{scheme} {alice_token.secret}"})
        assert response.status_code == 200, path
        assert "tokenward-token-expires" in response.headers


# --- tokens in the query string ----------------------------------------------------------------

QUERY_TOKENS = {
    "plain": "access_token=SECRET",
    "among_others": "status=active&access_token=SECRET",
    "percent_encoded_name": "access%5Ftoken=SECRET",
    "lowercase_escape": "access%5ftoken=SECRET",
    "first_letter_escaped": "%61ccess_token=SECRET",
    "empty_value": "access_token=",
    "no_value": "access_token",
}


@pytest.mark.parametrize("query", QUERY_TOKENS.values(), ids=QUERY_TOKENS.keys())
def test_a_token_in_the_query_string_is_400_invalid_request_even_with_no_header(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    lookups: Counter[str],
    alice_token: CreatedToken,
    query: str,
) -> None:
    before = db_rows()
    lookups.clear()
    for path in EVERY:
        response = client.get(f"{path}?{query.replace('SECRET', alice_token.secret)}")
        _check_invalid_request(response, problem, alice_token.secret)
    assert lookups == Counter()
    assert db_rows() == before


def test_a_token_in_the_query_string_is_400_even_beside_a_valid_header(
    client: TestClient, problem: ProblemCheck, alice_token: CreatedToken
) -> None:
    for path in EVERY:
        response = client.get(
            f"{path}?access_token={alice_token.secret}",
            headers={"Authorization": f"Bearer {alice_token.secret}"},
        )
        _check_invalid_request(response, problem, alice_token.secret)


@pytest.mark.parametrize("query", ["my_access_token=1", "access_tokens=1", "note=access_token"])
def test_query_parameters_that_merely_resemble_access_token_are_fine(
    client: TestClient, query: str
) -> None:
    assert client.get(f"/v1/policy?{query}").status_code == 200


# --- oversized headers -------------------------------------------------------------------------


def _check_refused_as_too_large(response: Any, problem: ProblemCheck) -> None:
    """400 ``invalid_request`` with its challenge, or 431 with neither (not an auth error)."""
    if response.status_code == 400:
        problem(response, 400, error="invalid_request")
        assert 'error="invalid_request"' in response.headers["www-authenticate"]
    else:
        problem(response, 431)
        assert "www-authenticate" not in response.headers
    assert "tokenward-token-expires" not in response.headers


OVERSIZED: dict[str, Callable[[str], dict[str, str]]] = {
    "authorization": lambda secret: {"Authorization": f"Bearer {secret}{'A' * TEN_KB}"},
    "other_header_beside_a_valid_token": lambda secret: {
        "Authorization": f"Bearer {secret}",
        "X-Padding": "p" * TEN_KB,
    },
    "other_header_and_no_credential": lambda secret: {"X-Padding": "p" * TEN_KB},
}


@pytest.mark.parametrize("headers", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_a_10_kb_header_is_refused_before_any_hashing_or_lookup(
    client: TestClient,
    problem: ProblemCheck,
    db_rows: Rows,
    lookups: Counter[str],
    alice_token: CreatedToken,
    headers: Callable[[str], dict[str, str]],
) -> None:
    before = db_rows()
    lookups.clear()
    for path in EVERY:
        response = client.get(path, headers=headers(alice_token.secret))
        _check_refused_as_too_large(response, problem)
        assert alice_token.secret[4:] not in response.text
    assert lookups == Counter()
    assert db_rows() == before


def test_the_spy_sees_the_hashing_and_lookup_of_a_normal_request(
    client: TestClient, lookups: Counter[str], alice_token: CreatedToken
) -> None:
    """The control for the tests above: their spy would have counted a lookup."""
    lookups.clear()
    response = client.get("/v1/self", headers={"Authorization": f"Bearer {alice_token.secret}"})
    assert response.status_code == 200
    assert lookups == Counter(digest=1, lookup=1)
