"""Routes on the hot path or outside ``/v1/tokens``: plain Starlette, no FastAPI machinery."""

from __future__ import annotations

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.tokens import TokenKind
from tokenward.http import problems, views
from tokenward.http.auth import principal_of
from tokenward.runtime import Runtime

__all__ = ["routes"]


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def self_endpoint(request: Request) -> Response:
    """``GET /v1/self``: is the presented token valid, and what is it? (promise P3)"""
    principal = principal_of(request.scope)
    if principal is None:
        return problems.authentication_required()
    return _json(views.self_view(principal))


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        await to_thread.run_sync(runtime.store.ping)
    except StoreUnavailable as error:
        return _json({"status": "unavailable", "reason": f"store unreachable: {error}"}, 503)
    return _json({"status": "ready"})


async def policy(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    current = await to_thread.run_sync(runtime.policies.current)
    ms = int(runtime.settings.max_staleness.total_seconds() * 1000)
    scopes = sorted(runtime.tokens.scopes_for(TokenKind.USER))
    return _json(views.policy_view(current, ms, scopes))


routes = [
    Route("/v1/self", self_endpoint, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/v1/policy", policy, methods=["GET"]),
]
