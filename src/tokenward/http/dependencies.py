"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from tokenward.domain.errors import InsufficientScope, TokenwardError
from tokenward.domain.model import Principal
from tokenward.http.auth import principal_of
from tokenward.runtime import Runtime

__all__ = ["AuthenticationRequired", "requires", "runtime"]


class AuthenticationRequired(TokenwardError):
    """A protected endpoint was called with no credential at all."""


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
