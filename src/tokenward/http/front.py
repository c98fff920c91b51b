"""The front door: what every request passes before anything else reads it."""

from __future__ import annotations

from starlette.types import ASGIApp

from tokenward.http.bodies import BodyLimitMiddleware
from tokenward.http.proxies import ProxyHeadersMiddleware
from tokenward.settings import Settings

__all__ = ["front_door"]


def front_door(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` behind the body cap, and before that the client's address and scheme as the
    trusted proxies tell them (so the access log, limits and audit all see the real client)."""
    capped = BodyLimitMiddleware(app, settings.max_body_bytes)
    return ProxyHeadersMiddleware(capped, settings.trusted_proxies)
