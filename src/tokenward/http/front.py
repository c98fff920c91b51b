"""The front door: what every request passes before anything else reads it, as one ASGI layer.

In order: the client's address and scheme as the trusted proxies tell them (so the access log,
limits and audit all see the real client), the body cap, then the few paths answered outside
the API (gateways' ``/v1/forward-auth``, ``/metrics``). It also counts the requests in flight
(event streams aside), so the streams' fan-out can let them answer first. One layer, not one
per concern: each ASGI layer is a coroutine on every request, and the verify hot path is
measured in them.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.http.bodies import BodyCap
from tokenward.http.in_flight import InFlight
from tokenward.http.proxies import TrustedProxies
from tokenward.settings import Settings

__all__ = ["FrontDoor"]


class FrontDoor:
    """``app`` behind the trusted-proxy rewrite and the body cap; ``own`` maps a path to the
    app that answers it instead (it never reads a body). Every request but those to
    ``streams`` counts in ``in_flight`` until it has answered."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        own: Mapping[str, ASGIApp],
        in_flight: InFlight,
        streams: frozenset[str],
    ) -> None:
        self.app = app
        self.own = dict(own)
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.bodies = BodyCap(app, settings.max_body_bytes)
        self.in_flight = in_flight
        self.streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = scope["path"] not in self.streams
        if counted:
            self.in_flight.enter()
        try:
            send = self.proxies.believe(scope, send)
            own = self.own.get(scope["path"])
            if own is not None:
                await own(scope, receive, send)
                return
            body = self.bodies.has_body(scope)
            if body is None:
                await self.bodies.answer.send(send)
            elif body:
                await self.bodies.counted(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            if counted:
                self.in_flight.leave()
