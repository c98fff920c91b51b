"""FastAPI dependencies over :class:`~tokenward.sdk.TokenwardMiddleware`: the caller, or a
refusal with the middleware's own answers. Imports Starlette, so the light install loads this
module only when an app asks for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.exceptions import HTTPException
from starlette.requests import Request

from tokenward.domain.errors import AuthenticationRequired, InsufficientScope
from tokenward.sdk.middleware import caller_of
from tokenward.sdk.verifier import Caller

__all__ = ["optional_token", "require_token"]


def require_token(scopes: Iterable[str] = (), realm: str = "api") -> Callable[..., Caller]:
    """A FastAPI dependency: the caller, who must hold every one of ``scopes``; ``401`` for an
    anonymous request, ``403 insufficient_scope`` naming the first scope missing."""
    needed = tuple(scopes)

    def dependency(request: Request) -> Caller:
        caller = caller_of(request.scope)
        if caller is None:
            status, headers, _ = AuthenticationRequired().answer(realm)
            raise HTTPException(status, "Authentication required", dict(headers))
        for scope in needed:
            if not caller.has_scope(scope):
                status, headers, _ = InsufficientScope(scope).answer(realm)
                raise HTTPException(status, f"needs the scope '{scope}'", dict(headers))
        return caller

    return dependency


def optional_token() -> Callable[..., Caller | None]:
    """A FastAPI dependency for endpoints that also serve anonymous callers: the caller or
    ``None``. (An invalid token never gets here: the middleware answered 401.)"""

    def dependency(request: Request) -> Caller | None:
        return caller_of(request.scope)

    return dependency
