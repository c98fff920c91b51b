"""Errors carry their own HTTP answers (status, headers, problem+json body), framework-free, and
one function decides what a request's credential is, for the server and the SDK alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from tokenward.domain import errors
from tokenward.domain.answers import Answer, invalid_token, with_header
from tokenward.domain.credentials import presented_token
from tokenward.domain.errors import (
    AuthenticationRequired,
    MalformedCredential,
    TokenwardError,
)
from tokenward.domain.tokens import TokenKind, generate

EVERY_ERROR: list[tuple[TokenwardError, int]] = [
    (errors.TokenwardError(), 500),
    (errors.InvalidInput("label", "is too long"), 422),
    (errors.NotFound("no such token"), 404),
    (errors.Conflict("username 'alice' is taken"), 409),
    (errors.Forbidden(), 403),
    (errors.HeaderTooLarge(), 431),
    (errors.CsrfRefused(), 403),
    (errors.AuthenticationRequired(), 401),
    (errors.SessionEnded(), 401),
    (errors.LoginFailed(), 401),
    (errors.MalformedCredential("more than one Authorization header"), 400),
    (errors.InvalidToken("expired"), 401),
    (errors.InsufficientScope("introspect"), 403),
    (errors.RateLimited(7), 429),
    (errors.StoreUnavailable("ConnectError"), 503),
    (errors.InvalidClient(basic=True), 401),
    (errors.MethodNotAllowed(["POST"]), 405),
]


def _body(answer: Answer) -> dict[str, Any]:
    assert answer.header("content-type") == "application/problem+json"
    body: dict[str, Any] = json.loads(answer.body)
    return body


@pytest.mark.parametrize(("error", "status"), EVERY_ERROR, ids=lambda e: type(e).__name__)
def test_every_error_answers_an_rfc_9457_problem_with_its_status(
    error: TokenwardError, status: int
) -> None:
    answer = error.answer()
    body = _body(answer)
    assert answer.status == body["status"] == status
    assert all(isinstance(body[key], str) and body[key] for key in ("type", "title", "detail"))


def test_every_error_class_of_the_domain_is_covered_above() -> None:
    covered = {type(error) for error, _ in EVERY_ERROR}
    declared = {getattr(errors, name) for name in errors.__all__}
    assert declared == covered


@pytest.mark.parametrize(
    ("error", "challenge"),
    [
        (AuthenticationRequired(), 'Bearer realm="api"'),
        (errors.SessionEnded(), 'Bearer realm="api"'),
        (errors.InvalidToken(), 'Bearer realm="api", error="invalid_token"'),
        (MalformedCredential("x"), 'Bearer realm="api", error="invalid_request"'),
        (errors.InsufficientScope("read"), 'Bearer realm="api", error="insufficient_scope"'),
    ],
)
def test_credential_refusals_carry_the_realms_rfc_6750_challenge_and_no_store(
    error: TokenwardError, challenge: str
) -> None:
    answer = error.answer("api")
    assert (answer.header("www-authenticate") or "").startswith(challenge)
    assert answer.header("cache-control") == "no-store"


@pytest.mark.parametrize(
    ("error", "seconds"), [(errors.StoreUnavailable(), "1"), (errors.RateLimited(7), "7")]
)
def test_answers_to_wait_say_how_long(error: TokenwardError, seconds: str) -> None:
    assert error.answer().header("retry-after") == seconds


def test_a_secret_in_an_errors_text_never_comes_back() -> None:
    secret = "twu_" + "A1b2C3d4" * 6
    answer = errors.Conflict(f"the label {secret} is taken").answer()
    assert secret.encode() not in answer.body
    assert b"[redacted]" in answer.body


def test_tokens_glued_together_are_redacted_whole_in_an_answer() -> None:
    """The second token's body does not survive after the first's run ate its prefix."""
    first, second = generate(TokenKind.USER), generate(TokenKind.ADMIN)
    answer = errors.Conflict(f"the label {first}{second}_x is taken").answer()
    assert b"the label [redacted] is taken" in answer.body
    assert second[4:].encode() not in answer.body


def test_an_answer_sends_itself_through_asgi_and_a_header_can_be_added() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    answer = errors.NotFound().answer()
    asyncio.run(answer.send(with_header(send, (b"x-extra", b"1"))))
    start, body = sent
    assert start["status"] == 404 and (b"x-extra", b"1") in start["headers"]
    assert (b"content-type", b"application/problem+json") in start["headers"]
    assert body == {"type": "http.response.body", "body": answer.body}


BEARER = "twu_" + "x" * 49


@pytest.mark.parametrize(
    ("headers", "query", "decided"),
    [
        ([], b"", None),
        ([(b"authorization", f"Bearer {BEARER}".encode())], b"", BEARER),
        ([(b"authorization", b"Basic YWxpY2U6cHc=")], b"", AuthenticationRequired),
        ([(b"authorization", b"Bearer")], b"", MalformedCredential),
        (
            [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
            b"",
            MalformedCredential,
        ),
        ([], b"access_token=" + BEARER.encode(), MalformedCredential),
    ],
    ids=["absent", "bearer", "other scheme", "empty bearer", "two headers", "query string"],
)
def test_the_credential_decision(
    headers: list[tuple[bytes, bytes]], query: bytes, decided: object
) -> None:
    if isinstance(decided, type):
        with pytest.raises(decided):
            presented_token(headers, query)
    else:
        assert presented_token(headers, query) == decided


def test_an_answer_sent_over_asgi_is_framed_by_its_length() -> None:
    """Without Content-Length the server would fall back to chunked encoding for every refusal,
    which simple keep-alive clients cannot read."""
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    answer = invalid_token(None)
    asyncio.run(answer.send(send))
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(answer.body)).encode()
    assert sent[1]["body"] == answer.body
