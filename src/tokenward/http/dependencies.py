"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from tokenward.domain.errors import InsufficientScope, TokenwardError
from tokenward.domain.model import Actor, Principal
from tokenward.http.auth import principal_of
from tokenward.runtime import Runtime

__all__ = [
    "AuthenticationRequired",
    "CallerCheck",
    "actor_of",
    "caller_check",
    "caller_checks_of",
    "requires",
    "runtime",
]

CallerCheck = Callable[[Request], Principal]
_CALLER_CHECKS: set[CallerCheck] = set()


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


def caller_check(check: CallerCheck) -> CallerCheck:
    """Mark ``check`` as the dependency that decides who may call a route (401 or 403)."""
    _CALLER_CHECKS.add(check)
    return check


def caller_checks_of(route: object) -> list[CallerCheck]:
    """The caller checks among the dependencies of ``route`` (its router's included)."""
    dependant = getattr(route, "dependant", None)
    pending = list(dependant.dependencies) if dependant is not None else []
    found = []
    while pending:
        dependency = pending.pop(0)
        if dependency.call in _CALLER_CHECKS:
            found.append(dependency.call)
        pending[:0] = dependency.dependencies
    return found


def requires(scope: str) -> CallerCheck:
    """A dependency that yields the caller's principal if its token holds ``scope``."""

    @caller_check
    def dependency(request: Request) -> Principal:
        principal = principal_of(request.scope)
        if principal is None:
            raise AuthenticationRequired()
        if not principal.has_scope(scope):
            raise InsufficientScope(scope)
        return principal

    return dependency
