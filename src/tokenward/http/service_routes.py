"""Routes on the hot path or outside ``/v1/tokens``: plain Starlette, no FastAPI machinery.
(``/metrics`` is answered in front of authentication: see :mod:`tokenward.http.metrics`.)"""

from __future__ import annotations

import anyio
import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.tokens import TokenKind
from tokenward.http import views
from tokenward.runtime import Runtime

__all__ = ["routes"]


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 while the store answers and this node's propagation is fresh; 503 with the reason
    otherwise (a load balancer then sends traffic elsewhere)."""
    runtime: Runtime = request.app.state.runtime
    lag = runtime.cache.lag()
    lag_ms = None if lag is None else round(lag * 1000, 1)
    if runtime.draining.is_set():  # stopping: the load balancer should send no more
        reason = "draining: the node is shutting down"
        return _json({"status": "unavailable", "reason": reason, "lag_ms": lag_ms}, 503)
    try:
        with anyio.fail_after(1.0):
            await to_thread.run_sync(runtime.store.ping, abandon_on_cancel=True)
    except TimeoutError:
        reason = "store unreachable: no answer within 1 s"
        return _json({"status": "unavailable", "reason": reason, "lag_ms": lag_ms}, 503)
    except StoreUnavailable as error:
        reason = f"store unreachable: {error}"
        return _json({"status": "unavailable", "reason": reason, "lag_ms": lag_ms}, 503)
    if not runtime.cache.is_fresh():
        reason = (
            "propagation not started"
            if lag_ms is None
            else f"propagation stale: last confirmed {lag_ms} ms ago"
        )
        return _json({"status": "unavailable", "reason": reason, "lag_ms": lag_ms}, 503)
    return _json(
        {
            "status": "ready",
            "node": runtime.receipts.node_id,
            "lag_ms": lag_ms,
            "applied_seq": runtime.cache.applied_seq,
        }
    )


async def policy(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    current = await to_thread.run_sync(runtime.policies.current)
    ms = int(runtime.settings.max_staleness.total_seconds() * 1000)
    scopes = sorted(runtime.tokens.scopes_for(TokenKind.USER))
    return _json(views.policy_view(current, ms, scopes))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/v1/policy", policy, methods=["GET"]),
]
