"""FastAPI dependencies over :class:`~tokenward.sdk.TokenwardMiddleware`: the caller, or a
refusal with the middleware's own answers (RFC 9457 problems, RFC 6750 challenges). Both declare
an HTTP bearer security scheme, so the app's OpenAPI document and Swagger UI show it. Imports
FastAPI, so the light install loads this module only when an app asks for it."""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations at
# run time, and they name the scopes of the enclosing call.
import json
from collections.abc import Callable, Iterable
from typing import Annotated, Any, NoReturn

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tokenward.domain.answers import Answer
from tokenward.domain.errors import AuthenticationRequired, InsufficientScope
from tokenward.sdk.middleware import caller_of
from tokenward.sdk.verifier import Caller

__all__ = ["BEARER", "Refusal", "optional_token", "require_token"]

# What the OpenAPI document shows. The middleware has checked the header already: this scheme
# only declares it, and never refuses by itself (auto_error=False).
BEARER = HTTPBearer(
    scheme_name="tokenward",
    bearerFormat="tokenward token",
    description="A tokenward token: `Authorization: Bearer <token>`",
    auto_error=False,
)
_Declared = HTTPAuthorizationCredentials | None


class Refusal(HTTPException):
    """A refusal carrying the middleware's complete answer. Rendered as that answer (problem
    body, challenge, no-store); an app whose exception handlers cannot be reached (none of
    Starlette's) still gets its status and headers."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status, _detail(answer), dict(answer.headers))
        self.answer = answer


def require_token(scopes: Iterable[str] = (), realm: str = "api") -> Callable[..., Caller]:
    """A FastAPI dependency: the caller, who must hold every one of ``scopes``; ``401`` for an
    anonymous request, ``403 insufficient_scope`` naming the first scope missing."""
    needed = tuple(scopes)

    def dependency(
        request: Request, _: Annotated[_Declared, Security(BEARER, scopes=needed)]
    ) -> Caller:
        caller = caller_of(request.scope)
        if caller is None:
            _refuse(request, AuthenticationRequired().answer(realm))
        for scope in needed:
            if not caller.has_scope(scope):
                _refuse(request, InsufficientScope(scope).answer(realm))
        return caller

    return dependency


def optional_token() -> Callable[..., Caller | None]:
    """A FastAPI dependency for endpoints that also serve anonymous callers: the caller or
    ``None``. (An invalid token never gets here: the middleware answered 401.)"""

    def dependency(request: Request, _: Annotated[_Declared, Security(BEARER)]) -> Caller | None:
        return caller_of(request.scope)

    return dependency


def _refuse(request: Request, answer: Answer) -> NoReturn:
    """Raise ``answer``. Its handler joins the app's exception handlers of this request (the
    table Starlette's ExceptionMiddleware puts in the scope), so the answer goes out as the
    middleware's would, not as FastAPI's ``{"detail": …}``; without that table, FastAPI's
    handler still sends the status and the challenge."""
    handlers = request.scope.get("starlette.exception_handlers")
    if handlers is not None:
        handlers[0].setdefault(Refusal, _render)
    raise Refusal(answer)


def _render(request: Request, refusal: Any) -> Response:
    answer: Answer = refusal.answer
    headers = {name: value for name, value in answer.headers if name != "content-type"}
    media_type = answer.header("content-type")
    return Response(answer.body, answer.status, headers=headers, media_type=media_type)


def _detail(answer: Answer) -> str:
    detail: str = json.loads(answer.body)["detail"]
    return detail
