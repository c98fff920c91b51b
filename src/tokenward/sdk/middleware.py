"""Protect any ASGI app (Starlette, FastAPI): plain ASGI middleware, shaped like Starlette's
``AuthenticationMiddleware``; the FastAPI dependencies are in ``tokenward.sdk.fastapi``.

Every request that presents a credential gets the caller or a clear answer — ``401`` for any
invalid one, also on endpoints that allow anonymous use (the original report's ``200 []``
cannot happen); ``503`` when validity cannot be proven. Anonymous requests pass through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from tokenward.domain.answers import Answer, metadata_answer, with_header, with_resource_metadata
from tokenward.domain.credentials import presented_token
from tokenward.domain.discovery import ProtectedResource
from tokenward.domain.errors import MethodNotAllowed, TokenwardError
from tokenward.sdk.verifier import Caller, RemoteVerifier, expiry_value

__all__ = ["CALLER", "Discovery", "ProtectedResource", "TokenwardMiddleware", "caller_of"]

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
    """Wraps an ASGI app: the caller (or ``None``) in ``scope``, refusals answered here.

    With ``metadata`` (RFC 9728), the middleware serves the API's protected resource document
    at its well-known path, and its challenges name it (``resource_metadata``)."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: RemoteVerifier,
        realm: str = "api",
        metadata: ProtectedResource | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm
        self.metadata = Discovery(metadata)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                self.verifier.start()
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.metadata.path:
            await self.metadata.answer(scope["method"]).send(send)
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
            await self.metadata.refusal(refusal.answer(self.realm)).send(send)
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


class Discovery:
    """An API's RFC 9728 metadata as the middlewares serve it (nothing, without one)."""

    def __init__(self, metadata: ProtectedResource | None) -> None:
        self.path = None if metadata is None else metadata.path
        self.url = None if metadata is None else metadata.url
        self._document = None if metadata is None else metadata_answer(metadata.document())

    def answer(self, method: str) -> Answer:
        """The document for ``GET`` (and ``HEAD``); ``405`` otherwise."""
        assert self._document is not None  # noqa: S101 - only asked on its own path
        if method in ("GET", "HEAD"):
            return self._document
        return MethodNotAllowed(["GET", "HEAD"]).answer()

    def refusal(self, answer: Answer) -> Answer:
        """``answer`` with the document's URL in its challenge, if there is a document."""
        return answer if self.url is None else with_resource_metadata(answer, self.url)


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
