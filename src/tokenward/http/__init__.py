"""The HTTP API: an ASGI app factory over the service."""

from tokenward.http.app import create_app

__all__ = ["create_app"]
