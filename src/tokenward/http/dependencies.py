"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from tokenward.domain.errors import InsufficientScope, TokenwardError
from tokenward.domain.model import Actor, Principal
from tokenward.http.auth import principal_of
from tokenward.runtime import Runtime

__all__ = ["AuthenticationRequired", "actor_of", "requires", "runtime"]


class AuthenticationRequired(TokenwardError):
    """A protected endpoint was called with no credential at all."""


def actor_of(actor_id: str, request: Request) -> Actor:
    """The audit view of a caller: its id, client address and user agent (truncated)."""
    agent = request.headers.get("user-agent")
    return Actor(
        actor_id,
        request.client.host if request.client else None,
        None if agent is None else agent[:256],
    )


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def requires(scope: str) -> Callable[[Request], Principal]:
    """A dependency that yields the caller's principal if its token holds ``scope``."""

    def dependency(request: Request) -> Principal:
        principal = principal_of(request.scope)
        if principal is None:
            raise AuthenticationRequired()
        if not principal.has_scope(scope):
            raise InsufficientScope(scope)
        return principal

    return dependency
