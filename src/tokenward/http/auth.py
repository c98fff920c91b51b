"""Authentication for every request, as plain ASGI middleware.

Every request passes here. A request that presents no credential goes on as anonymous; one that
presents any credential gets a principal or an error answer, on anonymous endpoints too
(RFC 6750; promise P2). Verification runs off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.domain.bearer import Absent, Bearer, Malformed, OtherScheme, read_credential
from tokenward.domain.errors import InvalidToken, StoreUnavailable
from tokenward.domain.model import Principal
from tokenward.http import problems
from tokenward.http.views import rfc3339

__all__ = ["PRINCIPAL", "AuthenticationMiddleware", "principal_of"]

PRINCIPAL = "tokenward.principal"
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_TOTAL = 32 * 1024


def principal_of(scope: Scope) -> Principal | None:
    """The authenticated principal of a request, or ``None`` for an anonymous one."""
    principal: Principal | None = scope.get(PRINCIPAL)
    return principal


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp, verify: Callable[[str], Principal]) -> None:
        self.app = app
        self.verify = verify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if _oversized(headers):
            # Refused before any parsing, hashing or lookup.
            response = problems.problem(
                431,
                "Request header fields too large",
                "A header is too large.",
                slug="header-too-large",
            )
            await response(scope, receive, send)
            return
        credential = read_credential(headers, scope["query_string"])
        if isinstance(credential, Absent):
            scope[PRINCIPAL] = None
            await self.app(scope, receive, send)
            return
        if isinstance(credential, Malformed):
            await problems.invalid_request(credential.reason)(scope, receive, send)
            return
        if isinstance(credential, OtherScheme):
            await problems.authentication_required()(scope, receive, send)
            return
        await self._authenticated(credential, scope, receive, send)

    async def _authenticated(
        self, credential: Bearer, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            principal = await to_thread.run_sync(self.verify, credential.token)
        except InvalidToken as error:
            await problems.invalid_token(error.reason)(scope, receive, send)
            return
        except StoreUnavailable:
            await _unavailable()(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        expires = principal.expires_at
        value = b"never" if expires is None else rfc3339(expires).encode()

        async def send_with_expiry(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"tokenward-token-expires", value),
                ]
            await send(message)

        await self.app(scope, receive, send_with_expiry)


def _oversized(headers: list[tuple[bytes, bytes]]) -> bool:
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            return True
        total += size
    return total > MAX_HEADERS_TOTAL


def _unavailable() -> Response:
    return problems.problem(
        503,
        "Service unavailable",
        "The token store cannot be reached; try again shortly.",
        slug="store-unavailable",
        headers={"Retry-After": "1"},
    )
