"""Protect any ASGI app (Starlette, FastAPI): plain ASGI middleware, shaped like Starlette's
``AuthenticationMiddleware``, plus thin FastAPI dependencies.

Every request that presents a credential gets the caller or a clear answer — ``401`` for any
invalid one, also on endpoints that allow anonymous use (the original report's ``200 []``
cannot happen); ``503`` when validity cannot be proven. Anonymous requests pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.domain.bearer import Absent, Malformed, OtherScheme, read_credential
from tokenward.domain.errors import InvalidToken, StoreUnavailable
from tokenward.sdk import _answers
from tokenward.sdk.verifier import Caller, RemoteVerifier

__all__ = ["CALLER", "TokenwardMiddleware", "caller_of", "optional_token", "require_token"]

CALLER = "tokenward.caller"


def caller_of(scope: Scope) -> Caller | None:
    """The request's caller, or ``None`` for an anonymous request."""
    caller: Caller | None = scope.get(CALLER)
    return caller


class TokenwardMiddleware:
    def __init__(self, app: ASGIApp, verifier: RemoteVerifier, realm: str = "api") -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                self.verifier.start()
            await self.app(scope, receive, send)
            return
        scope[CALLER] = None
        credential = read_credential(scope["headers"], scope["query_string"])
        if isinstance(credential, Absent):
            await self.app(scope, receive, send)
            return
        if isinstance(credential, Malformed):
            await _answer(send, _answers.invalid_request(self.realm, credential.reason))
            return
        if isinstance(credential, OtherScheme):
            await _answer(send, _answers.missing(self.realm))
            return
        try:
            # A fresh cache hit is answered here, without a coroutine or any I/O.
            checked = self.verifier.check_cached(credential.token)
            if isinstance(checked, Caller):
                caller = checked
            else:
                self.verifier.start()
                caller = await self.verifier.aintrospect(credential.token, checked)
        except InvalidToken as error:
            await _answer(send, _answers.invalid_token(self.realm, error.reason))
            return
        except StoreUnavailable:
            await _answer(send, _answers.unavailable())
            return
        scope[CALLER] = caller
        await self.app(scope, receive, _with_expiry(send, caller))


def _with_expiry(send: Send, caller: Caller) -> Send:
    value = _expiry_header(caller)

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), (b"tokenward-token-expires", value)]
            message["headers"] = headers
        await send(message)

    return sending


_EXPIRY_MEMO: dict[str, tuple[datetime | None, bytes]] = {}


def _expiry_header(caller: Caller) -> bytes:
    """``Tokenward-Token-Expires`` for a caller, formatted once per token."""
    memo = _EXPIRY_MEMO.get(caller.token_id)
    if memo is not None and memo[0] == caller.expires_at:
        return memo[1]
    expires = caller.expires_at
    value = b"never" if expires is None else expires.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    if len(_EXPIRY_MEMO) > 10_000:
        _EXPIRY_MEMO.clear()
    _EXPIRY_MEMO[caller.token_id] = (expires, value)
    return value


async def _answer(send: Send, answer: _answers.Answer) -> None:
    status, headers, body = answer
    raw = [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def require_token(scopes: Iterable[str] = (), realm: str = "api") -> Callable[..., Caller]:
    """A FastAPI dependency: the caller, who must hold every one of ``scopes``; ``401`` for an
    anonymous request, ``403 insufficient_scope`` naming the first scope missing."""
    needed = tuple(scopes)

    def dependency(request: Request) -> Caller:
        caller = caller_of(request.scope)
        if caller is None:
            status, headers, _ = _answers.missing(realm)
            raise HTTPException(status, "Authentication required", dict(headers))
        for scope in needed:
            if not caller.has_scope(scope):
                status, headers, _ = _answers.insufficient_scope(realm, scope)
                raise HTTPException(status, f"needs the scope '{scope}'", dict(headers))
        return caller

    return dependency


def optional_token() -> Callable[..., Caller | None]:
    """A FastAPI dependency for endpoints that also serve anonymous callers: the caller or
    ``None``. (An invalid token never gets here: the middleware answered 401.)"""

    def dependency(request: Request) -> Caller | None:
        return caller_of(request.scope)

    return dependency
