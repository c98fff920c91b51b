"""The outermost ASGI app: authentication for every request, then the hot path served as plain
ASGI, everything else by the management API (FastAPI).

``GET /v1/self`` is the route resource servers and scripts call most; on a fresh cache hit it
runs without FastAPI's middleware, dependency resolution or response classes, and without
leaving the event loop (ARCHITECTURE P6).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.domain.answers import Answer
from tokenward.domain.errors import AuthenticationRequired, MethodNotAllowed, TokenwardError
from tokenward.http import views
from tokenward.http.access_log import redacted
from tokenward.http.auth import principal_of
from tokenward.service.usage import LastUseRecorder

__all__ = ["CrashGuard", "Edge", "self_endpoint_with"]

log = logging.getLogger("tokenward.http")
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
_JSON = (b"content-type", b"application/json")


def self_endpoint_with(usage: LastUseRecorder) -> Handler:
    """``GET /v1/self``: is the presented credential valid, and what is it? (promise P3). Its
    ``last_used_at`` is the stored last use as far as this node knows:
    what it read with the token, or what it wrote since (so it lags by up to a flush interval,
    a minute by default, and shows this node's writes without a store read)."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer_self(scope, receive, send, usage)

    return endpoint


async def _answer_self(scope: Scope, receive: Receive, send: Send, usage: LastUseRecorder) -> None:
    principal = principal_of(scope)
    if principal is None:
        await AuthenticationRequired().answer().send(send)
        return
    token = principal.token
    written = None if token is None else usage.written(token.id)
    body = views.RENDERINGS.self_body(principal, written)
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Edge:
    """Routes the hot path itself and hands everything else to ``api``. Another method on a
    hot path is ``405`` with ``Allow`` (RFC 9110 §15.5.6), rendered by ``renderings[path]``
    where a path's errors have a format of their own (the OAuth endpoints')."""

    def __init__(
        self,
        api: ASGIApp,
        hot: dict[tuple[str, str], Handler],
        renderings: Mapping[str, Callable[[Answer], Answer]] | None = None,
    ) -> None:
        self.api = api
        self.hot = hot
        self.renderings = dict(renderings or {})
        self.allowed: dict[str, set[str]] = {}
        for method, path in hot:
            self.allowed.setdefault(path, set()).add(method)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.hot.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if handler is None and scope["type"] == "http" and scope["path"] in self.allowed:
            await self._not_allowed(scope["path"], send)
            return
        await (self.api if handler is None else handler)(scope, receive, send)

    async def _not_allowed(self, path: str, send: Send) -> None:
        answer = MethodNotAllowed(sorted(self.allowed[path])).answer()
        await self.renderings.get(path, _as_is)(answer).send(send)


def _as_is(answer: Answer) -> Answer:
    return answer


class CrashGuard:
    """Outermost: an exception that escapes every layer below becomes a 500 problem (unless an
    answer was already sent), logged once and without the URL's secrets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started: list[bool] = []

        def tracking_send(message: Message) -> Awaitable[None]:
            # A plain function returning send's awaitable: no extra coroutine per message.
            if not started and message["type"] == "http.response.start":
                started.append(True)
            return send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if scope["type"] != "http":
                raise  # lifespan: the server reports it
            if started:  # answered (FastAPI's handler has logged it): nothing more to say
                return
            log.exception("unhandled error on %s %s", scope["method"], redacted(scope["path"]))
            await TokenwardError().answer().send(send)  # a bare 500: nothing more is said
