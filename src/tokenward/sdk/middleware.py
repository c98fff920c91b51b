"""Protect any ASGI app (Starlette, FastAPI): plain ASGI middleware, shaped like Starlette's
``AuthenticationMiddleware``; the FastAPI dependencies are in ``tokenward.sdk.fastapi``.

Every request that presents a credential gets the caller or a clear answer — ``401`` for any
invalid one, also on endpoints that allow anonymous use (the original report's ``200 []``
cannot happen); ``503`` when validity cannot be proven. Anonymous requests pass through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from tokenward.domain.answers import with_header
from tokenward.domain.credentials import presented_token
from tokenward.domain.errors import TokenwardError
from tokenward.sdk.verifier import Caller, RemoteVerifier, expiry_value

__all__ = ["CALLER", "TokenwardMiddleware", "caller_of"]

CALLER = "tokenward.caller"

# The ASGI types, spelled here so that the light install needs no web framework.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def caller_of(scope: Scope) -> Caller | None:
    """The request's caller, or ``None`` for an anonymous request."""
    caller: Caller | None = scope.get(CALLER)
    return caller


class TokenwardMiddleware:
    """Wraps an ASGI app: the caller (or ``None``) in ``scope``, refusals answered here."""

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
        found = _sole_authorization(scope)
        if found is None:  # anonymous: passes through untouched
            scope[CALLER] = None
            await self.app(scope, receive, send)
            return
        if found is not False:
            # The hot path: a header value verified before, still vouched for by the cache.
            remembered = self.verifier.recall(found)
            if remembered is not None:
                scope[CALLER] = remembered.caller
                await self.app(scope, receive, with_header(send, remembered.header))
                return
        await self._check(scope, receive, send, None if found is False else found)

    async def _check(
        self, scope: Scope, receive: Receive, send: Send, authorization: bytes | None
    ) -> None:
        """Every request the hot path does not settle: anonymous, refused, or a token not
        remembered yet (then it is, once verified)."""
        scope[CALLER] = None
        try:
            token = presented_token(scope["headers"], scope["query_string"])
            caller = None if token is None else await self.verifier.averify(token)
        except TokenwardError as refusal:
            await refusal.answer(self.realm).send(send)
            return
        if token is None or caller is None:  # anonymous
            await self.app(scope, receive, send)
            return
        if authorization is None:  # a query string the hot path leaves to the full check
            header = (b"tokenward-token-expires", expiry_value(caller).encode())
        else:
            header = self.verifier.remember(authorization, token, caller).header
        scope[CALLER] = caller
        await self.app(scope, receive, with_header(send, header))


def _sole_authorization(scope: Scope) -> bytes | Literal[False] | None:
    """The value of the request's one ``Authorization`` header; ``None`` if there is none;
    ``False`` when only read_credential can tell: several headers, or a query string that
    may carry a token (RFC 6750 §2.3)."""
    if may_carry_token(scope["query_string"]):
        return False
    found = None
    for name, value in scope["headers"]:
        # Servers send lower-case names (ASGI spec), but the full check accepts any case.
        if len(name) == 13 and name.lower() == b"authorization":
            if found is not None:
                return False
            found = value
    return found


def may_carry_token(query: bytes) -> bool:
    """Whether a query string might hold an ``access_token`` parameter, perhaps
    percent-encoded; such requests skip the hot path so that read_credential refuses them."""
    return bool(query) and (b"access_token" in query or b"%" in query)
