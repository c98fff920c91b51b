"""Errors into answers for the management API: one table keyed on exception class, looked up
along the class hierarchy (the most specific class that has an entry wins).

A :class:`~tokenward.domain.errors.TokenwardError` renders its own answer (status, headers,
body); this module only adds what needs the request: the audit of failed admin actions, and
FastAPI's own errors (an unreadable body, validation) as RFC 9457 problems.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from tokenward.domain import answers
from tokenward.domain.answers import Answer
from tokenward.domain.errors import Conflict, InvalidInput, NotFound, TokenwardError
from tokenward.http.access_log import redacted
from tokenward.http.auth import principal_of
from tokenward.http.dependencies import actor_of, caller_checks_of, is_admin_route
from tokenward.runtime import Runtime

__all__ = ["HANDLERS", "handler_for", "install", "render"]

log = logging.getLogger("tokenward.http")
Handler = Callable[[Request, Exception], Awaitable[Response]]


def render(answer: Answer) -> Response:
    """A framework-free answer as a Starlette response."""
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


async def _answered(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TokenwardError)  # noqa: S101 - the table's entry for this class
    return render(exc.answer())


async def _audited(request: Request, exc: Exception) -> Response:
    """Every failed admin action is audited (who tried what, from where, why); the state it
    would have changed stays as it was."""
    principal = principal_of(request.scope)
    route = request.scope.get("route")
    if principal is not None and is_admin_route(route):
        reason = "not found" if isinstance(exc, NotFound) else str(exc)
        runtime: Runtime = request.app.state.runtime
        action = f"{request.method} {redacted(request.url.path)}"[:256]
        subject = getattr(route, "path", request.url.path)
        by = actor_of(principal.actor, request)
        await to_thread.run_sync(runtime.audit.failed, by, action, subject, reason[:256])
    return await _answered(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - the table's entry for this class
    if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI could not read the body
        return _refusal(request) or render(_MALFORMED_JSON)
    headers = tuple((name.lower(), value) for name, value in (exc.headers or {}).items())
    if exc.status_code == 405:  # the router names one route's methods; the path has more
        headers = (*(h for h in headers if h[0] != "allow"), ("allow", _allowed(request)))
    detail = str(exc.detail)
    return render(answers.problem(exc.status_code, detail, detail, headers=headers))


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")


def _allowed(request: Request) -> str:
    """Every method some route takes at the request's path (RFC 9110 §10.2.1), asked of the
    routes themselves (included routers too)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


async def _validation_failed(request: Request, exc: Exception) -> Response:
    """FastAPI's validation errors as problems that name each field, and never echo input."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - the table's entry
    errors: list[dict[str, Any]] = list(exc.errors())
    if any(e["loc"][:1] == ("body",) for e in errors) and not _is_json(request):
        return render(_NOT_JSON)
    if any(e["type"] == "json_invalid" for e in errors):
        return _refusal(request) or render(_MALFORMED_JSON)
    return render(answers.unprocessable([_field_error(e) for e in errors]))


async def _crashed(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, redacted(request.url.path))
    return render(_CRASHED)


HANDLERS: dict[type[Exception], Handler] = {
    InvalidInput: _audited,
    NotFound: _audited,
    Conflict: _audited,
    TokenwardError: _answered,
    HTTPException: _http_error,
    RequestValidationError: _validation_failed,
    Exception: _crashed,
}


def handler_for(exc: Exception) -> Handler:
    """The entry of the nearest class of ``exc``'s hierarchy that has one."""
    return next(HANDLERS[kind] for kind in type(exc).__mro__ if kind in HANDLERS)


async def _handle(request: Request, exc: Exception) -> Response:
    return await handler_for(exc)(request, exc)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` through the table."""
    for kind in HANDLERS:
        app.add_exception_handler(kind, _handle)


def _refusal(request: Request) -> Response | None:
    """The 401 or 403 that the route's caller checks give, if any.

    FastAPI parses a JSON body before it runs any dependency, so without this a caller with no
    right to a route would hear about the body before hearing that it may not call (P2).
    """
    try:
        for check in caller_checks_of(request.scope.get("route")):
            check(request)
    except TokenwardError as refused:
        return render(refused.answer())
    return None


_CRASHED = TokenwardError().answer()  # a failure of ours: a 500 that says nothing more


def _bad_body(title: str, detail: str, slug: str, field: str, message: str) -> Answer:
    """400 for a body that cannot be read at all, naming what is wrong with it."""
    errors = [{"field": field, "message": message}]
    return answers.problem(400, title, detail, slug=slug, errors=errors)


_MALFORMED_JSON = _bad_body(
    "Malformed JSON",
    "The request body is not valid JSON.",
    "malformed-json",
    "body",
    "is not valid JSON",
)
_NOT_JSON = _bad_body(
    "Unsupported content type",
    "Content-Type must be application/json.",
    "bad-content-type",
    "Content-Type",
    "must be application/json",
)


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
    return {"field": ".".join(loc) or "body", "message": str(error["msg"])}
