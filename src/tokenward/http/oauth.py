"""The two OAuth 2.0 endpoints, as plain ASGI on the hot path: RFC 7662 introspection and
RFC 7009 revocation. Both take ``application/x-www-form-urlencoded`` bodies and answer
``Cache-Control: no-store``; both verify through the one
:class:`~tokenward.service.authentication.Authenticator`, so a store that does not answer
is ``503`` with ``Retry-After`` here as everywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from tokenward.domain.answers import REALM, Answer
from tokenward.domain.errors import InvalidToken, TokenwardError
from tokenward.domain.introspection import INACTIVE, active_response
from tokenward.domain.model import Actor
from tokenward.domain.scopes import INTROSPECT
from tokenward.http.auth import principal_of
from tokenward.service.authentication import Authenticator, require
from tokenward.service.tokens import TokenService

__all__ = ["FormRefused", "introspection", "revocation"]

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
MAX_BODY = 4096  # a token and a hint; anything bigger is not a request of ours
_FORM = b"application/x-www-form-urlencoded"
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


class FormRefused(TokenwardError):
    """A request body these endpoints cannot read: ``400 invalid_request`` in the OAuth
    error format (RFC 6749 §5.2), not a problem document."""

    def answer(self, realm: str = REALM) -> Answer:
        body = {"error": "invalid_request", "error_description": str(self)}
        headers = tuple((name.decode(), value.decode()) for name, value in _HEADERS)
        return Answer(400, headers, orjson.dumps(body))


def introspection(authenticator: Authenticator) -> Handler:
    """``POST /v1/introspect`` (RFC 7662) for callers holding scope ``introspect``."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # RFC 7662 §2.1: the endpoint itself requires authorization.
            require(principal_of(scope), INTROSPECT)
            token = await _token_param(scope, receive)
            answer = await _introspect(authenticator, token)
        except TokenwardError as refusal:
            await refusal.answer().send(send)
            return
        await _json(send, 200, answer)

    return endpoint


async def _introspect(authenticator: Authenticator, token: str) -> dict[str, Any]:
    try:
        return active_response(await authenticator.verify(token))
    except InvalidToken:
        return INACTIVE


def revocation(tokens: TokenService, authenticator: Authenticator) -> Handler:
    """``POST /v1/revoke`` (RFC 7009): whoever holds a token may revoke it. The answer is 200
    whether or not the token existed (§2.2), so it reveals nothing."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        by = Actor("rfc7009", client[0] if client else None, _user_agent(scope))
        try:
            token = await _token_param(scope, receive)
            await authenticator.in_thread(lambda value: tokens.revoke_presented(value, by), token)
        except TokenwardError as refusal:
            await refusal.answer().send(send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS[1:]})
        await send({"type": "http.response.body", "body": b""})

    return endpoint


async def _token_param(scope: Scope, receive: Receive) -> str:
    """The form's ``token``; :class:`FormRefused` otherwise (RFC 6749 §5.2)."""
    if _header(scope, b"content-type").split(b";")[0].strip().lower() != _FORM:
        raise FormRefused("the body must be application/x-www-form-urlencoded")
    body = await _body(receive)
    if body is None:
        raise FormRefused("the body is too large")
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=4, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise FormRefused("the body is not a valid form") from None
    tokens = form.get("token", [])
    if len(tokens) != 1 or not tokens[0]:
        raise FormRefused("exactly one 'token' parameter is required")
    return tokens[0]


async def _body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope["headers"] if key == name), b"")


def _user_agent(scope: Scope) -> str | None:
    agent = _header(scope, b"user-agent")
    return agent.decode("latin-1")[:256] if agent else None
