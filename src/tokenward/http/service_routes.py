"""Routes on the hot path or outside ``/v1/tokens``: plain Starlette, no FastAPI machinery."""

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


async def metrics(request: Request) -> Response:
    """Prometheus text format: propagation lag, watermark, cache use."""
    runtime: Runtime = request.app.state.runtime
    cache = runtime.cache
    lag = cache.lag()
    lines = [
        "# HELP tokenward_propagation_lag_seconds Seconds since this node last confirmed it "
        "had applied every event.",
        "# TYPE tokenward_propagation_lag_seconds gauge",
        f"tokenward_propagation_lag_seconds {'NaN' if lag is None else f'{lag:.6f}'}",
        "# HELP tokenward_applied_seq The newest event this node has applied.",
        "# TYPE tokenward_applied_seq gauge",
        f"tokenward_applied_seq {cache.applied_seq}",
        "# HELP tokenward_propagation_fresh 1 while the cache may serve, else 0.",
        "# TYPE tokenward_propagation_fresh gauge",
        f"tokenward_propagation_fresh {int(cache.is_fresh())}",
        "# HELP tokenward_cache_entries Verified tokens held by this node.",
        "# TYPE tokenward_cache_entries gauge",
        f"tokenward_cache_entries {len(cache)}",
        "# HELP tokenward_cache_hits_total Verifications answered from the cache.",
        "# TYPE tokenward_cache_hits_total counter",
        f"tokenward_cache_hits_total {cache.hits}",
        "# HELP tokenward_cache_misses_total Verifications that went to the store.",
        "# TYPE tokenward_cache_misses_total counter",
        f"tokenward_cache_misses_total {cache.misses}",
        "# HELP tokenward_store_writes_total Data-changing statements this process sent to "
        "the store (requests authenticated from the cache send none).",
        "# TYPE tokenward_store_writes_total counter",
        f"tokenward_store_writes_total {runtime.store.writes}",
    ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


async def policy(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    current = await to_thread.run_sync(runtime.policies.current)
    ms = int(runtime.settings.max_staleness.total_seconds() * 1000)
    scopes = sorted(runtime.tokens.scopes_for(TokenKind.USER))
    return _json(views.policy_view(current, ms, scopes))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/v1/policy", policy, methods=["GET"]),
]
