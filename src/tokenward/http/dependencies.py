"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from tokenward.domain.model import Actor, Principal
from tokenward.http.auth import principal_of
from tokenward.runtime import Runtime
from tokenward.service.authentication import require

__all__ = ["CallerCheck", "actor_of", "caller_checks_of", "is_admin_route", "requires", "runtime"]


class CallerCheck(SecurityBase):
    """The dependency that decides who may call a route: the caller's principal, or 401/403.

    FastAPI reads a JSON body before it runs any dependency, so the error handlers ask a
    route's caller checks first: a caller without rights hears that before any complaint
    about its body (P2). ``admin`` marks the routes whose failed actions are audited. As a
    security scheme, it puts the route's ``bearer`` requirement in the OpenAPI document (the
    authentication middleware has read the credential already)."""

    def __init__(self, check: Callable[[Request], Principal], *, admin: bool = False) -> None:
        self.check = check
        self.admin = admin
        self.model = HTTPBearerModel()
        self.scheme_name = "bearer"

    def __call__(self, request: Request) -> Principal:
        return self.check(request)


def caller_checks_of(route: object) -> list[CallerCheck]:
    """The caller checks ``route`` declares (its own dependencies and its router's)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    return [d.call for d in dependant.dependencies if isinstance(d.call, CallerCheck)]


def is_admin_route(route: object) -> bool:
    """Whether ``route`` is an admin action (guarded by an admin check)."""
    return any(check.admin for check in caller_checks_of(route))


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


def requires(scope: str) -> CallerCheck:
    """A dependency that yields the caller's principal if its token holds ``scope``."""
    return CallerCheck(lambda request: require(principal_of(request.scope), scope))
