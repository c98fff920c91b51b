"""``/v1/forward-auth``: tokenward's answer for a gateway (nginx ``auth_request``, Caddy
``forward_auth``, Traefik ``forwardAuth``) about a request it is about to pass to an API.

Plain ASGI around the app, on the same verify path as ``GET /v1/self``: the authenticator's
hot path first (one scan of the headers, one SHA-256, one read of the fresh cache; a hit never
leaves the event loop), then its full check, with the same cache, bound and failure limits. Only
the ``Authorization`` header speaks for the client (never a cookie: a gateway passes the
browser's cookies on, and a session is not a credential for someone else's API). The gateway's
configuration states the policy of each location in two headers:

- ``Tokenward-Require-Scope: read write``: every scope named is needed (so is a token);
- ``Tokenward-Require-Token: true``: no anonymous access.

A valid token is answered ``200`` with the caller's identity in ``Tokenward-*`` headers for the
gateway to copy to the upstream; an anonymous request where allowed, ``200`` without them. Any
refusal is the error's own answer: ``401`` (with the RFC 6750 challenge), ``403
insufficient_scope``, ``400 invalid_request``, ``429``, or ``503`` when validity cannot be proven.
Answers are never cached by the gateway: a cached ``200`` would outlive a revocation.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.domain.errors import (
    AuthenticationRequired,
    InsufficientScope,
    MalformedCredential,
    TokenwardError,
)
from tokenward.domain.model import Principal
from tokenward.domain.scopes import is_valid_scope_name
from tokenward.http.views import RENDERINGS
from tokenward.service.authentication import Authenticator, Presented

__all__ = ["PATH", "REQUIRE_SCOPE", "REQUIRE_TOKEN", "ForwardAuth", "GatewayPolicy"]

PATH = "/v1/forward-auth"
REQUIRE_SCOPE = b"tokenward-require-scope"
REQUIRE_TOKEN = b"tokenward-require-token"
Headers = Sequence[tuple[bytes, bytes]]
_FLAGS = {b"": False, b"false": False, b"true": True}
_NO_STORE = (b"cache-control", b"no-store")
_EMPTY = (b"content-length", b"0")
_ANONYMOUS = [_NO_STORE, _EMPTY]


class GatewayPolicy:
    """What a gateway location demands: these scopes (all of them), and whether a token must
    be presented. Read from the gateway's headers; a header that cannot be read is refused
    (``400 invalid_request``) rather than guessed at, which could only loosen it."""

    __slots__ = ("scopes", "token_required")

    def __init__(self, scopes: tuple[str, ...] = (), token_required: bool = False) -> None:
        self.scopes = scopes
        self.token_required = token_required or bool(scopes)

    @classmethod
    def of(cls, headers: Headers) -> GatewayPolicy:
        """The policy the headers state. Repeated headers add up: each can only tighten it."""
        scopes: list[str] = []
        required = False
        for name, value in headers:
            if name == REQUIRE_SCOPE:
                scopes.extend(_scopes(value))
            elif name == REQUIRE_TOKEN:
                required = _flag(value) or required
        return cls(tuple(dict.fromkeys(scopes)), required) if scopes or required else _OPEN

    def admit(self, principal: Principal | None) -> None:
        """Raise the refusal for ``principal`` (``None``: anonymous), if this policy has one:
        401 for a missing token, 403 ``insufficient_scope`` naming every scope it lacks."""
        if principal is None:
            if self.token_required:
                raise AuthenticationRequired()
            return
        missing = [scope for scope in self.scopes if not principal.has_scope(scope)]
        if missing:
            raise InsufficientScope(" ".join(missing))


_OPEN = GatewayPolicy()


def _scopes(value: bytes) -> list[str]:
    names = value.decode("latin-1").split()
    if not all(is_valid_scope_name(name) for name in names):
        raise MalformedCredential("Tokenward-Require-Scope must be scope names, space-separated")
    return names


def _flag(value: bytes) -> bool:
    flag = _FLAGS.get(value.strip().lower())
    if flag is None:
        raise MalformedCredential("Tokenward-Require-Token must be 'true' or 'false'")
    return flag


class ForwardAuth:
    """Answers ``/v1/forward-auth`` (any method; the body is never read) and passes every
    other request to ``app``."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator
        self._hit = authenticator.hit  # bound once: the hot path's one call
        self._identities = _Identities()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        try:
            policy = GatewayPolicy.of(headers)
            principal = self._hit(scope["query_string"], headers, scope.get("client"))
            if principal is None:
                principal = await self._authenticate(scope)
            policy.admit(principal)
        except TokenwardError as refusal:
            await refusal.answer().send(send)
            return
        answer = _ANONYMOUS if principal is None else self._identities.of(principal)
        await send({"type": "http.response.start", "status": 200, "headers": answer})
        await send({"type": "http.response.body", "body": b""})

    async def _authenticate(self, scope: Scope) -> Principal | None:
        """The full check, on the ``Authorization`` header alone (cookies are left out)."""
        headers = [(name, value) for name, value in scope["headers"] if name != b"cookie"]
        presented = Presented(
            scope["method"], PATH, headers, scope["query_string"], scope.get("client")
        )
        found = await self.authenticator.authenticate(presented)
        return None if found is None else found.principal


class _Identities:
    """The ``200`` answer's headers for a principal, built once per principal object (a cached
    principal is the same object on every hit). Bounded; starts over when full."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._memo: dict[int, tuple[Principal, list[tuple[bytes, bytes]]]] = {}

    def of(self, principal: Principal) -> list[tuple[bytes, bytes]]:
        entry = self._memo.get(id(principal))
        if entry is None or entry[0] is not principal:
            if len(self._memo) >= self.capacity:
                self._memo.clear()
            entry = self._memo[id(principal)] = (principal, _identity_headers(principal))
        return entry[1]


def _identity_headers(principal: Principal) -> list[tuple[bytes, bytes]]:
    """Usernames, ids and scopes are ASCII without spaces or controls (their rules), so they
    are safe as header values as they are."""
    token = principal.token
    scopes = () if token is None else token.scopes
    identity = [
        (b"tokenward-user", principal.user.username.encode()),
        (b"tokenward-user-id", principal.user.id.encode()),
        (b"tokenward-token-id", principal.actor.encode()),
        (b"tokenward-scopes", " ".join(scopes).encode()),
        RENDERINGS.expires_header(principal),
    ]
    return [*identity, _NO_STORE, _EMPTY]
