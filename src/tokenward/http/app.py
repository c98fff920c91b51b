"""The ASGI application factory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.domain.errors import (
    Conflict,
    InsufficientScope,
    InvalidInput,
    LoginFailed,
    NotFound,
    RateLimited,
    StoreUnavailable,
)
from tokenward.http import (
    admin,
    events,
    leaks,
    oauth,
    openapi,
    problems,
    service_routes,
    sessions,
    tokens,
)
from tokenward.http.access_log import AccessLogMiddleware, redacted
from tokenward.http.auth import AuthenticationMiddleware, principal_of
from tokenward.http.dependencies import AuthenticationRequired, actor_of, caller_checks_of
from tokenward.http.edge import CrashGuard, Edge, self_endpoint_with
from tokenward.http.webhooks import router as webhooks_router
from tokenward.runtime import Runtime

__all__ = ["TokenwardApp", "create_app"]

log = logging.getLogger("tokenward.http")


def create_app(runtime: Runtime) -> TokenwardApp:
    """The whole HTTP API over ``runtime``'s services."""
    api = _management_api(runtime)
    edge = Edge(
        api,
        {
            ("GET", "/v1/self"): self_endpoint_with(runtime.usage),
            ("POST", "/v1/introspect"): oauth.introspection(runtime),
            ("POST", "/v1/revoke"): oauth.revocation(runtime),
            ("GET", "/v1/events"): events.event_stream(runtime),
        },
    )
    app: ASGIApp = AuthenticationMiddleware(
        edge,
        verify_digest=runtime.tokens.verify_digest,
        verify_cached=runtime.tokens.verify_cached,
        cached=runtime.tokens.cached,
        verify_session=runtime.sessions.verify,
        failures=runtime.failed_auth,
        lookup_timeout=max(1.0, runtime.settings.max_staleness.total_seconds()),
        on_use=runtime.usage.seen,
        on_dead=runtime.alarms.presented,
    )
    if runtime.settings.access_log:
        app = AccessLogMiddleware(app)
    return TokenwardApp(CrashGuard(app), api, runtime)


class TokenwardApp:
    """The ASGI app: ``api`` is the FastAPI management API inside it (OpenAPI, routes)."""

    def __init__(self, app: ASGIApp, api: FastAPI, runtime: Runtime) -> None:
        self.app = app
        self.api = api
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _management_api(runtime: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    api = FastAPI(title="tokenward", version="1", docs_url=None, redoc_url=None, lifespan=lifespan)
    api.state.runtime = runtime
    api.router.routes.extend(service_routes.routes)
    # Imported here: the UI's views use tokenward.http helpers, whose package imports this.
    from tokenward.web import ui_routes

    api.router.routes.extend(ui_routes())  # the web UI: /, /ui/…, /static/…
    api.include_router(tokens.router)
    api.include_router(leaks.router)
    api.include_router(sessions.router)
    api.include_router(admin.router)
    api.include_router(webhooks_router)
    openapi.install(api)
    _install_error_handlers(api)
    return api


def _install_error_handlers(app: FastAPI) -> None:
    async def invalid_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidInput)  # noqa: S101 - registered for this type only
        await _audit_admin_failure(request, f"{exc.field}: {exc.message}")
        return _unprocessable([{"field": exc.field, "message": exc.message}])

    async def not_found(request: Request, exc: Exception) -> Response:
        await _audit_admin_failure(request, "not found")
        return problems.problem(404, "Not found", "No such resource.", slug="not-found")

    async def conflict(request: Request, exc: Exception) -> Response:
        await _audit_admin_failure(request, str(exc))
        return problems.problem(409, "Conflict", str(exc), slug="conflict")

    async def unauthenticated(request: Request, exc: Exception) -> Response:
        return problems.authentication_required()

    async def scope_missing(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InsufficientScope)  # noqa: S101 - registered for this type only
        return problems.insufficient_scope(exc.scope)

    async def login_failed(request: Request, exc: Exception) -> Response:
        return problems.problem(
            401,
            "Login failed",
            "Wrong username or password.",
            slug="login-failed",
            headers={"WWW-Authenticate": problems.challenge(problems.REALM)},
        )

    async def too_many(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimited)  # noqa: S101 - registered for this type only
        return problems.too_many(exc.retry_after, "Wait before trying again.")

    async def unavailable(request: Request, exc: Exception) -> Response:
        return problems.unavailable()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this type only
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI could not read the body
            return _refusal(request) or _malformed_json()
        return problems.problem(
            exc.status_code, str(exc.detail), str(exc.detail), headers=dict(exc.headers or {})
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, redacted(request.url.path))
        return problems.problem(500, "Internal server error", "Something went wrong on our side.")

    for kind, handler in (
        (InvalidInput, invalid_input),
        (NotFound, not_found),
        (Conflict, conflict),
        (AuthenticationRequired, unauthenticated),
        (InsufficientScope, scope_missing),
        (StoreUnavailable, unavailable),
        (LoginFailed, login_failed),
        (RateLimited, too_many),
        (HTTPException, http_error),
        (RequestValidationError, _validation_failed),
        (Exception, crashed),
    ):
        app.add_exception_handler(kind, handler)


async def _audit_admin_failure(request: Request, reason: str) -> None:
    """Every failed admin action is audited (who tried what, from where, why); the state it
    would have changed stays as it was."""
    principal = principal_of(request.scope)
    if principal is None or not request.url.path.startswith("/v1/admin/"):
        return
    runtime: Runtime = request.app.state.runtime
    route = getattr(request.scope.get("route"), "path", request.url.path)
    action = f"{request.method} {redacted(request.url.path)}"[:256]
    by = actor_of(principal.actor, request)
    await to_thread.run_sync(runtime.audit.failed, by, action, route, reason[:256])


async def _validation_failed(request: Request, exc: Exception) -> Response:
    """FastAPI's validation errors as problems that name each field, and never echo input."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors: list[dict[str, Any]] = list(exc.errors())
    if any(e["loc"][:1] == ("body",) for e in errors) and not _is_json(request):
        return problems.problem(
            400,
            "Unsupported content type",
            "Content-Type must be application/json.",
            slug="bad-content-type",
            errors=[{"field": "Content-Type", "message": "must be application/json"}],
        )
    if any(e["type"] == "json_invalid" for e in errors):
        return _refusal(request) or _malformed_json()
    return _unprocessable([_field_error(e) for e in errors])


def _refusal(request: Request) -> Response | None:
    """The 401 or 403 that the route's caller checks give, if any.

    FastAPI parses a JSON body before it runs any dependency, so without this a caller with no
    right to a route would hear about the body before hearing that it may not call (P2).
    """
    try:
        for check in caller_checks_of(request.scope.get("route")):
            check(request)
    except AuthenticationRequired:
        return problems.authentication_required()
    except InsufficientScope as error:
        return problems.insufficient_scope(error.scope)
    return None


def _malformed_json() -> Response:
    return problems.problem(
        400,
        "Malformed JSON",
        "The request body is not valid JSON.",
        slug="malformed-json",
        errors=[{"field": "body", "message": "is not valid JSON"}],
    )


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
    return {"field": ".".join(loc) or "body", "message": str(error["msg"])}


def _unprocessable(errors: list[dict[str, str]]) -> Response:
    fields = ", ".join(e["field"] for e in errors)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problems.problem(422, f"Invalid {fields}", detail, slug="invalid-input", errors=errors)
