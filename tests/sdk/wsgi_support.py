"""A plain WSGI app behind TokenwardWSGIMiddleware, as Flask would sit there, and a way to call
it without a server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenward.sdk import RemoteVerifier, TokenwardWSGIMiddleware

WSGICall = Callable[[str | None], tuple[str, dict[str, str], bytes]]


def wsgi_caller(verifier: RemoteVerifier) -> WSGICall:
    """``call(authorization)``: (status, headers, body) of an app that answers the caller's
    username, or ``anonymous``."""

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        caller = environ["tokenward.caller"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"anonymous" if caller is None else caller.username.encode()]

    app = TokenwardWSGIMiddleware(wsgi_app, verifier)

    def call(authorization: str | None) -> tuple[str, dict[str, str], bytes]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
        if authorization is not None:
            environ["HTTP_AUTHORIZATION"] = authorization
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            started.update(status=status, headers=dict(headers))

        body = b"".join(app(environ, start_response))
        return started["status"], started["headers"], body

    return call
