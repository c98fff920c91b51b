"""The session cookie, set and ended the same way by the API (``/v1/session``) and the web UI."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.responses import Response

from tokenward.http.auth import SESSION_COOKIE
from tokenward.runtime import Runtime

__all__ = ["cookie_secure", "end_session_cookie", "set_session_cookie"]


def cookie_secure(request: Request, rt: Runtime) -> bool:
    """``Secure`` unless set otherwise, or serving plain HTTP on a loopback address (where a
    browser would not send a Secure cookie back)."""
    if rt.settings.cookie_secure is not None:
        return rt.settings.cookie_secure
    server = request.scope.get("server")
    if request.url.scheme != "http" or not server:
        return True
    host = str(server[0])
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def set_session_cookie(response: Response, secret: str, request: Request, rt: Runtime) -> None:
    """HttpOnly (scripts never read it), SameSite=Lax (no cross-site posts carry it), for the
    session's lifetime."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(rt.settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, rt),
        path="/",
    )


def end_session_cookie(response: Response, request: Request, rt: Runtime) -> None:
    """Tell the browser to drop the session cookie (same attributes, or it keeps it)."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(request, rt)
    )
