"""``GET /metrics``: Prometheus text format, for whoever the operator chose.

- ``TOKENWARD_METRICS_TOKEN`` set: the scraper sends ``Authorization: Bearer <token>``
  (Prometheus' ``authorization`` setting); anything else is ``401``. Compared in constant time.
- Unset: only clients on a loopback address (an agent on the same machine) are answered;
  others get ``403`` naming the setting.

It sits in front of the authentication middleware: the metrics secret is not a tokenward
token, and would otherwise be answered ``401 invalid_token`` (and counted as a failure).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.domain.answers import Answer, problem
from tokenward.runtime import Runtime

__all__ = ["PATH", "MetricsEndpoint", "metrics_text"]

PATH = "/metrics"
_REALM = "tokenward-metrics"


class MetricsEndpoint:
    """Answers ``/metrics`` itself and hands every other request to ``app``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        token = runtime.settings.metrics_token
        self._digest = None if token is None else _digest(token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        await self._answer(scope).send(send)

    def _answer(self, scope: Scope) -> Answer:
        if scope["method"] != "GET":
            return problem(405, "Method not allowed", "GET only.", headers=(("allow", "GET"),))
        refusal = self._refusal(scope)
        if refusal is not None:
            return refusal
        text = metrics_text(self.runtime).encode()
        return Answer(200, (("content-type", "text/plain; version=0.0.4"),), text)

    def _refusal(self, scope: Scope) -> Answer | None:
        if self._digest is None:
            return None if _loopback(scope) else _loopback_only()
        presented = _authorization(scope)
        if presented is None or not presented.startswith(b"Bearer "):
            return _unauthorized()
        # Digests of equal length: the comparison time says nothing about the secret.
        if not hmac.compare_digest(_digest(presented[7:]), self._digest):
            return _unauthorized()
        return None


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def _authorization(scope: Scope) -> bytes | None:
    found = [value for name, value in scope["headers"] if name == b"authorization"]
    return bytes(found[0]) if len(found) == 1 else None


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def _unauthorized() -> Answer:
    return problem(
        401,
        "Metrics token required",
        "Send the metrics token (TOKENWARD_METRICS_TOKEN) as 'Authorization: Bearer <token>'.",
        slug="metrics-token",
        headers=(("www-authenticate", f'Bearer realm="{_REALM}"'), ("cache-control", "no-store")),
    )


def _loopback_only() -> Answer:
    return problem(
        403,
        "Metrics are local",
        "Without TOKENWARD_METRICS_TOKEN, /metrics answers clients on this machine only.",
        slug="metrics-local",
    )


def metrics_text(runtime: Runtime) -> str:
    """Propagation lag, watermark, cache use and store writes, in Prometheus text format."""
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
    return "\n".join(lines) + "\n"
