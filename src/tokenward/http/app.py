"""The ASGI application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.domain.answers import oauth_error
from tokenward.http import (
    admin,
    discovery,
    errors,
    events,
    leaks,
    oauth,
    openapi,
    passwords,
    service_routes,
    sessions,
    tokens,
)
from tokenward.http.access_log import AccessLogMiddleware
from tokenward.http.auth import AuthenticationMiddleware
from tokenward.http.cookies import session_cookie_namer
from tokenward.http.draining import drain_on_sigterm
from tokenward.http.edge import CrashGuard, Edge, self_endpoint_with
from tokenward.http.forward_auth import ForwardAuth
from tokenward.http.front import front_door
from tokenward.http.metrics import MetricsEndpoint
from tokenward.http.webhooks import router as webhooks_router
from tokenward.propagation.feed import EventFeed
from tokenward.runtime import Runtime

__all__ = ["TokenwardApp", "create_app"]


def create_app(runtime: Runtime) -> TokenwardApp:
    """The whole HTTP API over ``runtime``'s services. The hot path (plain ASGI: ``/v1/self``,
    introspection, the event stream, gateways' ``/v1/forward-auth``) takes only the narrow
    services it needs: the authenticator, the usage recorder, the event feed."""
    api = _management_api(runtime)
    authenticator = runtime.authenticator
    feed = EventFeed(runtime.cache, runtime.store, runtime.settings.max_staleness)
    edge = Edge(
        api,
        {
            ("GET", "/v1/self"): self_endpoint_with(runtime.usage),
            ("POST", "/v1/introspect"): oauth.introspection(authenticator),
            ("POST", "/v1/revoke"): oauth.revocation(runtime.tokens, authenticator),
            ("GET", "/v1/events"): events.EventStream(
                feed, authenticator, runtime.settings.events_per_key, runtime.draining.is_set
            ),
        },
        {path: oauth_error for path in oauth.PATHS},
    )
    app: ASGIApp = AuthenticationMiddleware(
        edge, authenticator, session_cookie_namer(runtime.settings.cookie_secure), oauth.PATHS
    )
    app = ForwardAuth(app, authenticator)  # gateways: the Authorization header alone
    app = MetricsEndpoint(app, runtime)  # its own secret, not a tokenward credential
    if runtime.settings.access_log:
        app = AccessLogMiddleware(app)
    return TokenwardApp(CrashGuard(front_door(app, runtime.settings)), api, runtime)


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
        drain_on_sigterm(runtime.draining)
        try:
            yield
        finally:
            runtime.stop()

    api = FastAPI(title="tokenward", version="1", docs_url=None, redoc_url=None, lifespan=lifespan)
    api.state.runtime = runtime
    api.router.routes.extend(service_routes.routes)
    api.router.routes.extend(discovery.routes)
    # Imported here: the UI's views use tokenward.http helpers, whose package imports this.
    from tokenward.web import ui_routes

    api.router.routes.extend(ui_routes())  # the web UI: /, /ui/…, /static/…
    api.include_router(tokens.router)
    api.include_router(leaks.router)
    api.include_router(sessions.router)
    api.include_router(admin.router)
    api.include_router(passwords.router)
    api.include_router(webhooks_router)
    openapi.install(api)
    errors.install(api)
    return api
