"""The OAuth endpoints' side of the domain: client credentials as RFC 6749 §2.3 sends them, and
every refusal as §5.2 JSON with the problem's members kept beside."""

from __future__ import annotations

import base64
import json

import pytest

from tokenward.domain import errors
from tokenward.domain.answers import oauth_error
from tokenward.domain.credentials import ClientSecret, presented_client
from tokenward.domain.errors import TokenwardError

POSTED = ClientSecret("tok_1", "twa_secret", basic=False)


def _basic(pair: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Basic " + base64.b64encode(pair))]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidClient(basic=False), "invalid_client"),
        (errors.AuthenticationRequired(), "invalid_client"),
        (errors.InvalidToken(), "invalid_token"),
        (errors.InsufficientScope("introspect"), "insufficient_scope"),
        (errors.MalformedCredential("two headers"), "invalid_request"),
        (errors.HeaderTooLarge(), "invalid_request"),
        (errors.MethodNotAllowed(["POST"]), "invalid_request"),
        (errors.RateLimited(3), "temporarily_unavailable"),
        (errors.StoreUnavailable("down"), "temporarily_unavailable"),
        (errors.TokenwardError(), "server_error"),
    ],
    ids=lambda e: type(e).__name__ if isinstance(e, TokenwardError) else e,
)
def test_every_refusal_becomes_rfc_6749_json_keeping_status_and_headers(
    error: TokenwardError, code: str
) -> None:
    problem = error.answer()
    answer = oauth_error(problem)
    body = json.loads(answer.body)
    assert answer.status == problem.status
    assert answer.header("content-type") == "application/json"
    assert (answer.header("cache-control"), answer.header("pragma")) == ("no-store", "no-cache")
    assert (body["error"], body["error_description"]) == (code, body["detail"])
    for name in ("www-authenticate", "retry-after", "allow"):
        assert answer.header(name) == problem.header(name)


def test_basic_credentials_are_read_and_form_decoded() -> None:
    found = presented_client(_basic(b"tok_1:twa_a%2Bb+c"), b"", None)
    assert found == ClientSecret("tok_1", "twa_a+b c", basic=True)
    assert presented_client([], b"", POSTED) is POSTED
    assert presented_client([], b"", None) is None
    assert presented_client([(b"authorization", b"Bearer abc")], b"", None) == "abc"


@pytest.mark.parametrize(
    ("headers", "posted", "refusal"),
    [
        (_basic(b"no-colon"), None, errors.InvalidClient),
        ([(b"authorization", b"Basic ***")], None, errors.InvalidClient),
        ([(b"authorization", b"Digest x")], None, errors.AuthenticationRequired),
        (_basic(b"a:b"), POSTED, errors.MalformedCredential),
        ([(b"authorization", b"Bearer abc")], POSTED, errors.MalformedCredential),
        ([(b"authorization", b"Bearer a\tb")], None, errors.MalformedCredential),
    ],
)
def test_unreadable_or_doubled_client_credentials_are_refused(
    headers: list[tuple[bytes, bytes]], posted: ClientSecret | None, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        presented_client(headers, b"", posted)


def test_a_posted_secret_never_shows_in_its_repr() -> None:
    assert "twa_secret" not in repr(POSTED)
