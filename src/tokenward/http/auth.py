"""Authentication for every request, as plain ASGI middleware around one
:class:`~tokenward.service.authentication.Authenticator`.

Shaped like Starlette's ``AuthenticationMiddleware``: non-HTTP scopes pass straight through;
the principal goes into ``scope``; a refusal is answered here from the error's own answer. The
hot path (a fresh cache hit) touches no framework object and adds no coroutine.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.domain.answers import with_header
from tokenward.domain.errors import TokenwardError
from tokenward.domain.model import Principal
from tokenward.http.views import RENDERINGS
from tokenward.service.authentication import SESSION_COOKIE, Authenticator, Presented

__all__ = [
    "COOKIE_NAME",
    "PRINCIPAL",
    "SESSION_COOKIE",
    "SESSION_SECRET",
    "AuthenticationMiddleware",
    "principal_of",
]

PRINCIPAL = "tokenward.principal"
SESSION_SECRET = "tokenward.session_secret"  # noqa: S105 - a scope key, not a secret
COOKIE_NAME = "tokenward.session_cookie"  # the session cookie's name for this request


def principal_of(scope: Scope) -> Principal | None:
    """The authenticated principal of a request, or ``None`` for an anonymous one."""
    principal: Principal | None = scope.get(PRINCIPAL)
    return principal


class AuthenticationMiddleware:
    """Puts the request's principal (or ``None``) in ``scope``; answers refusals itself.

    Paths in ``delegated`` authenticate their callers themselves (the OAuth endpoints, whose
    clients may send credentials in the body): past a cache hit, they get the request as is."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        session_cookie: Callable[[Scope], str] | None = None,
        delegated: Collection[str] = (),
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self._hit = authenticator.hit  # bound once: the hot path's one call
        # The session cookie's name for a request (``__Host-`` where it must be Secure): only
        # the name this server would have set counts.
        self.session_cookie = session_cookie or (lambda scope: SESSION_COOKIE)
        self.delegated = frozenset(delegated)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal = scope[PRINCIPAL] = self._hit(
            scope["query_string"], scope["headers"], scope.get("client")
        )
        if principal is None and scope["path"] in self.delegated:
            scope[COOKIE_NAME] = self.session_cookie(scope)  # for the endpoint's own check
            await self.app(scope, receive, send)
            return
        if principal is None:
            try:
                principal = await self._authenticate(scope)
            except TokenwardError as refusal:
                await refusal.answer().send(send)
                return
            if principal is None:
                await self.app(scope, receive, send)
                return
        await self.app(scope, receive, with_header(send, RENDERINGS.expires_header(principal)))

    async def _authenticate(self, scope: Scope) -> Principal | None:
        """The full check; sets the principal (and a session's secret) in ``scope``."""
        presented = Presented.of(scope, self.session_cookie(scope))
        found = await self.authenticator.authenticate(presented)
        if found is None:
            return None
        scope[PRINCIPAL] = found.principal
        if found.session_secret is not None:
            scope[SESSION_SECRET] = found.session_secret
        return found.principal
