"""The ASGI application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from starlette.types import ASGIApp

from tokenward.domain.answers import oauth_error
from tokenward.http import (
    admin,
    discovery,
    errors,
    events,
    forward_auth,
    leaks,
    metrics,
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
from tokenward.http.front import FrontDoor
from tokenward.http.in_flight import InFlight
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
    in_flight = InFlight()  # counted at the front door; the event streams' fan-out waits for it
    edge = Edge(
        api,
        {
            ("GET", "/v1/self"): self_endpoint_with(runtime.usage),
            ("POST", "/v1/introspect"): oauth.introspection(authenticator),
            ("POST", "/v1/revoke"): oauth.revocation(runtime.tokens, authenticator),
            ("GET", events.PATH): events.EventStream(
                feed,
                authenticator,
                runtime.settings.events_per_key,
                runtime.draining.is_set,
                in_flight,
            ),
        },
        {path: oauth_error for path in oauth.PATHS},
    )
    app: ASGIApp = AuthenticationMiddleware(
        edge, authenticator, session_cookie_namer(runtime.settings.cookie_secure), oauth.PATHS
    )
    logged: Callable[[ASGIApp], ASGIApp] = (
        AccessLogMiddleware if runtime.settings.access_log else _as_is
    )
    own: dict[str, ASGIApp] = {
        forward_auth.PATH: ForwardAuth(app, authenticator),  # gateways: Authorization alone
        metrics.PATH: MetricsEndpoint(app, runtime),  # its own secret, not a credential
    }
    front = FrontDoor(
        logged(app),
        runtime.settings,
        {p: logged(a) for p, a in own.items()},
        in_flight,
        frozenset({events.PATH}),
    )
    return TokenwardApp(front, api, runtime)


def _as_is(app: ASGIApp) -> ASGIApp:
    return app


class TokenwardApp(CrashGuard):
    """The ASGI app: the crash guard around the front door; ``api`` is the FastAPI management
    API inside it (OpenAPI, routes)."""

    def __init__(self, app: ASGIApp, api: FastAPI, runtime: Runtime) -> None:
        super().__init__(app)
        self.api = api
        self.runtime = runtime


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
