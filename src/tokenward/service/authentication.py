"""Authentication: who a request is, from what it presented. Framework-free.

One :class:`Authenticator` decides for every way in: the server's middleware, introspection,
revocation and the event stream. A request that presents no credential is anonymous; one that
presents any credential gets a principal or a refusal (a :class:`TokenwardError` carrying its
answer), on anonymous endpoints too (RFC 6750; promise P2). Store lookups run off the event loop
and fail closed (:class:`StoreUnavailable`, 503) when the store does not answer in time. A web
session (cookie) counts only when no ``Authorization`` header is sent, and its state-changing
requests need the CSRF header.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

import anyio
from anyio import to_thread

from tokenward.domain.credentials import ClientSecret, presented_client, presented_token
from tokenward.domain.errors import (
    AuthenticationRequired,
    CsrfRefused,
    HeaderTooLarge,
    InsufficientScope,
    InvalidClient,
    InvalidToken,
    RateLimited,
    SessionEnded,
    StoreUnavailable,
)
from tokenward.domain.model import DeadTokenPresented, Principal
from tokenward.domain.tokens import TOKEN_LENGTH
from tokenward.ratelimit import FailureLimiter
from tokenward.service.flights import Flights
from tokenward.service.sessions import csrf_token_for
from tokenward.service.verification import TokenVerifier

__all__ = [
    "SESSION_COOKIE",
    "Authenticated",
    "Authenticator",
    "Presented",
    "SessionVerifier",
    "require",
]

T = TypeVar("T")
A = TypeVar("A")
Client = tuple[str, int] | None
Headers = Sequence[tuple[bytes, bytes]]

SESSION_COOKIE = "tw_session"
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_TOTAL = 32 * 1024
_BEARER_LENGTH = len(b"Bearer ") + TOKEN_LENGTH
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOGIN = ("POST", "/v1/session")
# HTML forms cannot send headers: the web UI's form posts carry the CSRF token as the field
# ``csrf_token``, and tokenward.web checks it before anything else (every UI post is built
# with tokenward.web.forms.action, which does).
_FORM_POSTS = "/ui/"
_API = "/v1/"


@dataclasses.dataclass(frozen=True, slots=True)
class Presented:
    """What a request presented: its method and path, raw headers, query string and client,
    and the name its session cookie would have (``__Host-`` prefixed where it must be Secure)."""

    method: str
    path: str
    headers: Headers = dataclasses.field(repr=False)  # they carry the credentials
    query_string: bytes
    client: Client
    session_cookie: str = SESSION_COOKIE

    @classmethod
    def of(cls, scope: Mapping[str, Any], session_cookie: str = SESSION_COOKIE) -> Presented:
        """What an ASGI request ``scope`` presents (a plain mapping: no framework here)."""
        return cls(
            scope["method"],
            scope["path"],
            scope["headers"],
            scope["query_string"],
            scope.get("client"),
            session_cookie,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Authenticated:
    """An authenticated request: its principal and, for a web session, the cookie's secret."""

    principal: Principal
    session_secret: str | None = None


class SessionVerifier(Protocol):
    def verify(self, secret: str) -> Principal:
        """The principal of a session cookie's secret, or :class:`InvalidToken`."""
        ...


class Authenticator:
    """Answers who presented what: a principal, anonymous (``None``), or a refusal raised.

    ``on_use(token_id, client)`` runs on every request a token authenticates (a dict store,
    nothing more: it is the hot path); ``on_dead(error, client)`` when the real secret of a
    dead token is presented (counted for the owner's alarms). ``failures`` counts failed
    authentications per client address."""

    def __init__(
        self,
        tokens: TokenVerifier,
        sessions: SessionVerifier,
        failures: FailureLimiter,
        *,
        lookup_timeout: float = 1.0,
        on_use: Callable[[str, Client], None] | None = None,
        on_dead: Callable[[DeadTokenPresented, Client], None] | None = None,
    ) -> None:
        self.tokens = tokens
        self._cached = tokens.cached  # bound once: the hot path's one call
        self.sessions = sessions
        self.failures = failures
        self.lookup_timeout = lookup_timeout
        self.on_use = on_use
        self.on_dead = on_dead
        self._lookups: Flights[tuple[str, int], Principal] = Flights()

    def hit(self, query_string: bytes, headers: Headers, client: Client) -> Principal | None:
        """The hot path: one ``Authorization: Bearer <token>`` header whose token the fresh
        cache holds. Anything else (no header, several, odd spacing, a query string, a miss, an
        expired token) is ``None`` and left to :meth:`authenticate`, which answers exactly as
        without this. No I/O, no parsing: one scan of the headers and one SHA-256."""
        if query_string:
            return None
        found = None
        for name, value in headers:
            if name == b"authorization":
                if found is not None:
                    return None
                found = value
        if found is None or len(found) != _BEARER_LENGTH or not found.startswith(b"Bearer "):
            return None
        try:
            principal = self._cached(hashlib.sha256(found[7:]).hexdigest())
        except InvalidToken:
            return None  # expired: the full check answers, counts and records it
        if principal is not None and self.on_use is not None and principal.token is not None:
            self.on_use(principal.token.id, client)
        return principal

    async def authenticate(self, presented: Presented) -> Authenticated | None:
        """The full check: the request's principal, ``None`` for an anonymous request, or a
        refusal raised (431, 400, 401, 403, 429, 503)."""
        if _oversized(presented.headers):
            raise HeaderTooLarge()  # before any parsing, hashing or lookup
        token = presented_token(presented.headers, presented.query_string)
        if token is None:
            return await self._session(presented)
        return Authenticated(await self._bearer(token, presented.client))

    async def authenticate_client(
        self, presented: Presented, posted: ClientSecret | None
    ) -> Principal | None:
        """The caller of an OAuth endpoint (introspection, revocation): a Bearer token, client
        credentials (RFC 6749 §2.3.1: ``client_secret_basic`` in the header or ``posted``,
        ``client_secret_post``), a web session, or ``None`` when nothing was presented.
        Refusals as :meth:`authenticate`'s, and :class:`InvalidClient` for bad credentials."""
        if _oversized(presented.headers):
            raise HeaderTooLarge()
        credential = presented_client(presented.headers, presented.query_string, posted)
        if isinstance(credential, ClientSecret):
            return await self._client(credential, presented.client)
        if credential is not None:
            return await self._bearer(credential, presented.client)
        found = await self._session(presented)
        return None if found is None else found.principal

    async def verify(self, token: str) -> Principal:
        """A token's principal: a fresh cache hit stays on the event loop, a miss is looked up
        in a thread. :class:`InvalidToken`, or :class:`StoreUnavailable` (fail closed).

        Concurrent misses for one token share one read (single flight), among requests that
        saw the same cache generation: one arriving after an event was applied reads afresh."""
        checked = self.tokens.verify_cached(token)
        if isinstance(checked, Principal):
            return checked
        key = (checked, self.tokens.cache.generation)
        return await self._lookups.run(
            key, partial(self.in_thread, self.tokens.verify_digest, checked)
        )

    async def in_thread(self, call: Callable[[A], T], value: A) -> T:
        """``call(value)`` on a worker thread, failing closed if the store does not answer in
        time (a partitioned network hangs rather than refuses)."""
        try:
            with anyio.fail_after(self.lookup_timeout):
                return await to_thread.run_sync(call, value, abandon_on_cancel=True)
        except TimeoutError:
            raise StoreUnavailable("the store did not answer in time") from None

    async def _bearer(self, token: str, client: Client) -> Principal:
        try:
            principal = await self.verify(token)
        except InvalidToken as error:
            if self.on_dead is not None and isinstance(error, DeadTokenPresented):
                self.on_dead(error, client)
            if error.reason is None:  # matched no token: a dead one is always told it is dead
                self._count_failure(client)
            raise
        if self.on_use is not None and principal.token is not None:
            self.on_use(principal.token.id, client)
        return principal

    async def _client(self, credential: ClientSecret, client: Client) -> Principal:
        """The principal of client credentials: the secret must be a live token whose public
        id is ``client_id``. A wrong secret and a mismatched id fail alike (nothing tells which
        part was wrong); the id is compared in constant time."""
        try:
            principal = await self._bearer(credential.secret, client)
        except InvalidToken:
            raise InvalidClient(basic=credential.basic) from None
        token_id = principal.token.id if principal.token is not None else ""
        if not hmac.compare_digest(token_id.encode(), credential.client_id.encode()):
            self._count_failure(client)
            raise InvalidClient(basic=credential.basic)
        return principal

    def _count_failure(self, client: Client) -> None:
        """Count a value that matched no token, refusing with 429 once the address has sent
        too many. A valid token is never limited, and the real secret of a dead one (revoked,
        expired, rotated out, owner deactivated) always gets its 401, so its holder renews
        instead of backing off (a token's 256 random bits need no guessing limit; the count
        slows scanners and shows up in monitoring)."""
        key = f"ip:{client[0]}" if client else "ip:unknown"
        try:
            self.failures.check(key)
        except RateLimited as limited:
            detail = "Too many failed authentications from this address."
            raise RateLimited(limited.retry_after, detail) from None
        self.failures.fail(key)

    async def _session(self, presented: Presented) -> Authenticated | None:
        secret = _cookie(presented.headers, presented.session_cookie)
        if secret is None:
            return None
        try:
            principal = await self.in_thread(self.sessions.verify, secret)
        except InvalidToken:
            if _refuses_dead_cookie(presented):
                raise SessionEnded() from None
            return None  # a page: it sends the browser to the login page
        if _needs_csrf_header(presented):
            sent = _header(presented.headers, b"x-csrf-token")
            if sent is None or not hmac.compare_digest(sent, csrf_token_for(secret).encode()):
                raise CsrfRefused()
        return Authenticated(principal, secret)


def require(principal: Principal | None, scope: str) -> Principal:
    """``principal`` if it holds ``scope``: 401 for an anonymous caller, 403
    ``insufficient_scope`` for one without it (RFC 6750 §3.1)."""
    if principal is None:
        raise AuthenticationRequired()
    if not principal.has_scope(scope):
        raise InsufficientScope(scope)
    return principal


def _refuses_dead_cookie(presented: Presented) -> bool:
    """A dead session cookie on the API is a presented credential that is not valid: 401, as
    for a dead token (P2), so a script can tell it from having no rights. Logging in is the
    exception (it replaces the cookie); pages send the browser to the login page instead."""
    at = (presented.method, presented.path)
    return presented.path.startswith(_API) and at != _LOGIN


def _needs_csrf_header(presented: Presented) -> bool:
    """A state-changing request made with the session cookie, other than logging in or a UI
    form post (those check a form field instead)."""
    method, path = presented.method, presented.path
    return method in _UNSAFE and (method, path) != _LOGIN and not path.startswith(_FORM_POSTS)


def _header(headers: Headers, name: bytes) -> bytes | None:
    return next((bytes(value) for key, value in headers if key == name), None)


def _cookie(headers: Headers, name: str) -> str | None:
    """The value of cookie ``name`` in the first ``Cookie`` header (the last one named so
    wins, as browsers and Starlette read it); surrounding quotes are dropped."""
    raw = _header(headers, b"cookie")
    if raw is None:
        return None
    found = None
    for chunk in raw.decode("latin-1").split(";"):
        key, equals, value = chunk.partition("=")
        if equals and key.strip() == name:
            found = value.strip()
    if found is not None and len(found) >= 2 and found[0] == found[-1] == '"':
        found = found[1:-1]
    return found


def _oversized(headers: Headers) -> bool:
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            return True
        total += size
    return total > MAX_HEADERS_TOTAL
