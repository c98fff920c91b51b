"""An access log that cannot leak secrets: no query strings, no headers, only the token id."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.http.auth import principal_of

__all__ = ["AccessLogMiddleware", "redacted"]

log = logging.getLogger("tokenward.access")
# A secret pasted into a URL path must not reach the log either.
# ``(?:_…)*``: the next token glued on (``<token><token>``) goes with it, not its body alone.
_TOKEN_SHAPE = re.compile(r"tw[a-z]_[0-9A-Za-z]{20,}(?:_[0-9A-Za-z]+)*")


def redacted(path: str) -> str:
    """``path`` with anything shaped like a tokenward secret replaced."""
    return _TOKEN_SHAPE.sub("[redacted]", path)


class AccessLogMiddleware:
    """One line a request: method, path (without the query), status, token id, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            principal = principal_of(scope)
            log.info(
                "%s %s %d %s %.1fms",
                scope["method"],
                redacted(scope["path"]),
                status,
                principal.actor if principal else "-",
                (time.perf_counter() - started) * 1000,
            )
