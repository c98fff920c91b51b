"""The two OAuth 2.0 endpoints, as plain ASGI on the hot path: RFC 7662 introspection and
RFC 7009 revocation. Both take ``application/x-www-form-urlencoded`` bodies and answer
``Cache-Control: no-store``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from anyio import to_thread
from starlette.types import Receive, Scope, Send

from tokenward.domain.errors import InvalidToken
from tokenward.domain.introspection import INACTIVE, active_response
from tokenward.domain.model import Actor, Principal
from tokenward.domain.scopes import INTROSPECT
from tokenward.http import problems
from tokenward.http.auth import principal_of
from tokenward.runtime import Runtime

__all__ = ["introspection", "revocation"]

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
MAX_BODY = 4096  # a token and a hint; anything bigger is not a request of ours
_FORM = b"application/x-www-form-urlencoded"
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


def introspection(runtime: Runtime) -> Handler:
    """``POST /v1/introspect`` (RFC 7662) for callers holding scope ``introspect``."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        caller = principal_of(scope)
        if caller is None:  # RFC 7662 §2.1: the endpoint itself requires authorization
            await problems.authentication_required()(scope, receive, send)
            return
        if not caller.has_scope(INTROSPECT):
            await problems.insufficient_scope(INTROSPECT)(scope, receive, send)
            return
        token = await _token_param(scope, receive, send)
        if token is not None:
            answer = await _introspect(runtime, token)
            await _json(send, 200, answer)

    return endpoint


async def _introspect(runtime: Runtime, token: str) -> dict[str, Any]:
    try:
        checked = runtime.tokens.verify_cached(token)
        if not isinstance(checked, Principal):
            checked = await to_thread.run_sync(runtime.tokens.verify_digest, checked)
    except InvalidToken:
        return INACTIVE
    return active_response(checked)


def revocation(runtime: Runtime) -> Handler:
    """``POST /v1/revoke`` (RFC 7009): whoever holds a token may revoke it. The answer is 200
    whether or not the token existed (§2.2), so it reveals nothing."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        token = await _token_param(scope, receive, send)
        if token is None:
            return
        client = scope.get("client")
        by = Actor("rfc7009", client[0] if client else None, _user_agent(scope))
        await to_thread.run_sync(runtime.tokens.revoke_presented, token, by)
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS[1:]})
        await send({"type": "http.response.body", "body": b""})

    return endpoint


async def _token_param(scope: Scope, receive: Receive, send: Send) -> str | None:
    """The form's ``token``, or None after answering 400 ``invalid_request`` (RFC 6749 §5.2)."""
    if _header(scope, b"content-type").split(b";")[0].strip().lower() != _FORM:
        await _bad(send, "the body must be application/x-www-form-urlencoded")
        return None
    body = await _body(receive)
    if body is None:
        await _bad(send, "the body is too large")
        return None
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=4, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        await _bad(send, "the body is not a valid form")
        return None
    tokens = form.get("token", [])
    if len(tokens) != 1 or not tokens[0]:
        await _bad(send, "exactly one 'token' parameter is required")
        return None
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


async def _bad(send: Send, description: str) -> None:
    await _json(send, 400, {"error": "invalid_request", "error_description": description})


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope["headers"] if key == name), b"")


def _user_agent(scope: Scope) -> str | None:
    agent = _header(scope, b"user-agent")
    return agent.decode("latin-1")[:256] if agent else None
