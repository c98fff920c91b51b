"""Authentication for every request, as plain ASGI middleware.

Every request passes here. A request that presents no credential goes on as anonymous; one that
presents any credential gets a principal or an error answer, on anonymous endpoints too
(RFC 6750; promise P2). Verification runs off the event loop. A web session (cookie) counts only
when no ``Authorization`` header is sent, and its state-changing requests need the CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio import to_thread
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.domain.bearer import Absent, Bearer, Malformed, OtherScheme, read_credential
from tokenward.domain.errors import InvalidToken, RateLimited, StoreUnavailable
from tokenward.domain.model import DeadTokenPresented, Principal
from tokenward.domain.tokens import TOKEN_LENGTH
from tokenward.http import problems
from tokenward.http.views import RENDERINGS
from tokenward.ratelimit import FailureLimiter
from tokenward.service.sessions import csrf_token_for

__all__ = [
    "PRINCIPAL",
    "SESSION_COOKIE",
    "SESSION_SECRET",
    "AuthenticationMiddleware",
    "principal_of",
]

PRINCIPAL = "tokenward.principal"
SESSION_SECRET = "tokenward.session_secret"  # noqa: S105 - a scope key, not a secret
SESSION_COOKIE = "tw_session"
MAX_HEADER_BYTES = 8 * 1024
_BEARER_LENGTH = len(b"Bearer ") + TOKEN_LENGTH
MAX_HEADERS_TOTAL = 32 * 1024
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOGIN = ("POST", "/v1/session")
# HTML forms cannot send headers: the web UI's form posts carry the CSRF token as the field
# ``csrf_token``, and tokenward.web checks it before anything else (every UI post is built
# with tokenward.web.forms.action, which does).
_FORM_POSTS = "/ui/"


def principal_of(scope: Scope) -> Principal | None:
    """The authenticated principal of a request, or ``None`` for an anonymous one."""
    principal: Principal | None = scope.get(PRINCIPAL)
    return principal


class AuthenticationMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        verify_digest: Callable[[str], Principal],
        verify_cached: Callable[[str], Principal | str],
        cached: Callable[[str], Principal | None],
        verify_session: Callable[[str], Principal],
        failures: FailureLimiter,
        lookup_timeout: float = 1.0,
        on_use: Callable[[str, Any], None] | None = None,
        on_dead: Callable[[DeadTokenPresented, Any], None] | None = None,
    ) -> None:
        self.app = app
        self.verify_digest = verify_digest
        self.verify_cached = verify_cached
        self.cached = cached
        self.verify_session = verify_session
        self.failures = failures
        self.lookup_timeout = lookup_timeout
        # Usage hooks: ``on_use(token_id, client)`` on every request a token authenticates (a
        # dict store, nothing more: it is the hot path), ``on_dead(error, client)`` when the
        # real secret of a dead token is presented (counted for the owner's alarms).
        self.on_use = on_use
        self.on_dead = on_dead

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[PRINCIPAL] = None
        principal = self._cache_hit(scope)
        if principal is None:
            response = await self._authenticate(scope)
            if response is not None:
                await response(scope, receive, send)
                return
            principal = principal_of(scope)
            if principal is None:
                await self.app(scope, receive, send)
                return
        await self.app(scope, receive, _with_expiry(send, RENDERINGS.expires_header(principal)))

    def _cache_hit(self, scope: Scope) -> Principal | None:
        """The hot path: one ``Authorization: Bearer <token>`` header whose token the fresh
        cache holds. Anything else (no header, several, odd spacing, a query string, a miss, an
        expired token) is left to the full check, which answers exactly as without this."""
        if scope["query_string"]:
            return None
        found = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if found is not None:
                    return None
                found = value
        if found is None or len(found) != _BEARER_LENGTH or not found.startswith(b"Bearer "):
            return None
        try:
            principal = self.cached(hashlib.sha256(found[7:]).hexdigest())
        except InvalidToken:
            return None  # expired: the full check answers, counts and records it
        if principal is not None:
            scope[PRINCIPAL] = principal
            if self.on_use is not None and principal.token is not None:
                self.on_use(principal.token.id, scope.get("client"))
        return principal

    async def _authenticate(self, scope: Scope) -> Response | None:
        """Set the principal in ``scope``, or return the answer that ends the request."""
        headers = scope["headers"]
        if _oversized(headers):
            # Refused before any parsing, hashing or lookup.
            return problems.problem(
                431,
                "Request header fields too large",
                "A header is too large.",
                slug="header-too-large",
            )
        credential = read_credential(headers, scope["query_string"])
        if isinstance(credential, Malformed):
            return problems.invalid_request(credential.reason)
        if isinstance(credential, OtherScheme):
            return problems.authentication_required()
        if isinstance(credential, Absent):
            return await self._session(scope)
        return await self._bearer(credential, scope)

    async def _bearer(self, credential: Bearer, scope: Scope) -> Response | None:
        try:
            # A fresh cache hit stays on the event loop; only a miss goes to a thread.
            checked = self.verify_cached(credential.token)
            if not isinstance(checked, Principal):
                checked = await self._lookup(self.verify_digest, checked)
            scope[PRINCIPAL] = checked
        except InvalidToken as error:
            if self.on_dead is not None and isinstance(error, DeadTokenPresented):
                self.on_dead(error, scope.get("client"))
            return self._failed(_client(scope), error)
        except StoreUnavailable:
            return problems.unavailable()
        if self.on_use is not None and checked.token is not None:
            self.on_use(checked.token.id, scope.get("client"))
        return None

    async def _lookup(self, verify: Callable[[str], Principal], value: str) -> Principal:
        """Run a store lookup off the loop, failing closed if the store does not answer in
        time (a partitioned network hangs rather than refuses)."""
        try:
            with anyio.fail_after(self.lookup_timeout):
                return await to_thread.run_sync(verify, value, abandon_on_cancel=True)
        except TimeoutError:
            raise StoreUnavailable("the store did not answer in time") from None

    def _failed(self, client: str, error: InvalidToken) -> Response:
        """401, or 429 once the address has failed too often. Counted only on failure, so a
        valid token is never limited (a token's 256 random bits need no guessing limit; the
        count is there to slow scanners and to show up in monitoring)."""
        try:
            self.failures.check(client)
        except RateLimited as limited:
            return problems.too_many(
                limited.retry_after, "Too many failed authentications from this address."
            )
        self.failures.fail(client)
        return problems.invalid_token(error.reason)

    async def _session(self, scope: Scope) -> Response | None:
        secret = _cookie(scope, SESSION_COOKIE)
        if secret is None:
            return None
        try:
            principal = await self._lookup(self.verify_session, secret)
        except InvalidToken:
            return None  # a stale cookie is not a presented API credential: anonymous
        except StoreUnavailable:
            return problems.unavailable()
        if _needs_csrf_header(scope):
            presented = _raw_header(scope, b"x-csrf-token")
            expected = csrf_token_for(secret).encode()
            if presented is None or not hmac.compare_digest(presented, expected):
                return problems.problem(
                    403,
                    "CSRF token missing or wrong",
                    "Send the csrf_token of GET /v1/session as the X-CSRF-Token header.",
                    slug="csrf",
                )
        scope[PRINCIPAL] = principal
        scope[SESSION_SECRET] = secret
        return None


def _with_expiry(send: Send, value: bytes) -> Send:
    """``send`` adding ``Tokenward-Token-Expires`` to the response start (promise P4). A plain
    function returning ``send``'s awaitable: no extra coroutine per message."""

    def sending(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (b"tokenward-token-expires", value)]
        return send(message)

    return sending


def _needs_csrf_header(scope: Scope) -> bool:
    """A state-changing request made with the session cookie, other than logging in or a UI
    form post (those check a form field instead)."""
    method, path = scope["method"], scope["path"]
    return method in _UNSAFE and (method, path) != _LOGIN and not path.startswith(_FORM_POSTS)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


def _raw_header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    raw = _raw_header(scope, name)
    return None if raw is None else raw.decode("latin-1")


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    return None if raw is None else cookie_parser(raw).get(name)


def _oversized(headers: list[tuple[bytes, bytes]]) -> bool:
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            return True
        total += size
    return total > MAX_HEADERS_TOTAL
