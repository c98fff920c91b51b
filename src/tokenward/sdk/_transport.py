"""A caller's httpx transport, shared by the verifier's short-lived clients."""

from __future__ import annotations

import httpx

__all__ = ["Kept"]


class Kept(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Forwards to ``inner`` and never closes it: the verifier opens a client per request
    (an async client belongs to one event loop), and closing each would close the caller's
    transport with it. The caller owns ``inner`` and closes it."""

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.inner, httpx.BaseTransport):
            # A transport error, like any failure to reach the server: fail closed (503).
            raise httpx.TransportError("the verifier's transport serves async clients only")
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.inner, httpx.AsyncBaseTransport):
            raise httpx.TransportError("the verifier's transport serves sync clients only")
        return await self.inner.handle_async_request(request)

    def close(self) -> None:
        """Nothing: the caller closes its own transport."""

    async def aclose(self) -> None:
        """Nothing: the caller closes its own transport."""
