"""OAuth discovery: ``GET /.well-known/oauth-authorization-server`` (RFC 8414) and
``GET /.well-known/oauth-protected-resource`` (RFC 9728) for tokenward's own API. Anonymous;
the issuer is ``TOKENWARD_PUBLIC_URL``, or else the URL the request was made to."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenward.domain.answers import problem
from tokenward.domain.discovery import (
    AUTHORIZATION_SERVER_PATH,
    PROTECTED_RESOURCE_PATH,
    ProtectedResource,
    authorization_server,
    base_url,
)
from tokenward.domain.scopes import ADMIN_KEY_SCOPES, USER_BUILTIN_SCOPES
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime

__all__ = ["routes"]


def _issuer(request: Request) -> str | None:
    """The public URL, else the request's own (``None`` if its Host header makes none)."""
    runtime: Runtime = request.app.state.runtime
    try:
        return runtime.settings.public_url or base_url(str(request.base_url))
    except ValueError:
        return None


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _no_issuer() -> Response:
    detail = "The request's Host makes no issuer URL; set TOKENWARD_PUBLIC_URL."
    answer = problem(400, "Bad request", detail, slug="invalid-request")
    return Response(answer.body, answer.status, headers=dict(answer.headers))


async def server_metadata(request: Request) -> Response:
    """Every scope a token can carry: tokens of users and admin keys alike."""
    issuer = _issuer(request)
    if issuer is None:
        return _no_issuer()
    tokens = request.app.state.runtime.tokens
    scopes = tokens.scopes_for(TokenKind.USER) | tokens.scopes_for(TokenKind.ADMIN)
    return _json(authorization_server(issuer, scopes))


async def resource_metadata(request: Request) -> Response:
    """tokenward's own API takes its own scopes (the resource scopes are for other APIs)."""
    issuer = _issuer(request)
    if issuer is None:
        return _no_issuer()
    scopes = tuple(USER_BUILTIN_SCOPES | ADMIN_KEY_SCOPES)
    return _json(ProtectedResource(issuer, (issuer,), scopes).document())


routes = [
    Route(AUTHORIZATION_SERVER_PATH, server_metadata, methods=["GET"]),
    Route(PROTECTED_RESOURCE_PATH, resource_metadata, methods=["GET"]),
]
