"""The session cookie, set and ended the same way by the API (``/v1/session``) and the web UI.

Where the cookie is ``Secure`` its name carries the ``__Host-`` prefix (RFC 6265bis section
4.1.3.2): a browser then takes it only from this host, over HTTPS, for path ``/`` and with no
``Domain``, so a sibling subdomain or a plain-HTTP answer cannot plant one (session fixation).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from tokenward.http.auth import SESSION_COOKIE
from tokenward.runtime import Runtime

__all__ = [
    "HOST_PREFIX",
    "cookie_secure",
    "end_session_cookie",
    "secure_scope",
    "session_cookie_name",
    "session_cookie_namer",
    "set_session_cookie",
]

HOST_PREFIX = "__Host-"


def secure_scope(scope: Scope, setting: bool | None) -> bool:
    """``Secure`` unless ``setting`` says otherwise, or serving plain HTTP on a loopback address
    (where a browser would not send a Secure cookie back)."""
    if setting is not None:
        return setting
    server = scope.get("server")
    if scope.get("scheme", "http") != "http" or not server:
        return True
    host = str(server[0])
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def cookie_secure(request: Request, rt: Runtime) -> bool:
    """:func:`secure_scope` for ``request`` under ``rt``'s settings."""
    return secure_scope(request.scope, rt.settings.cookie_secure)


def session_cookie_name(secure: bool) -> str:
    """``__Host-tw_session`` where the cookie is Secure, ``tw_session`` on plain loopback."""
    return HOST_PREFIX + SESSION_COOKIE if secure else SESSION_COOKIE


def session_cookie_namer(setting: bool | None) -> Callable[[Scope], str]:
    """The name the authentication middleware reads a request's session cookie under: only
    the one this server would have set, so a plain ``tw_session`` planted by a sibling host
    is not a session where the cookie must be Secure."""

    def name(scope: Scope) -> str:
        return session_cookie_name(secure_scope(scope, setting))

    return name


def set_session_cookie(response: Response, secret: str, request: Request, rt: Runtime) -> None:
    """HttpOnly (scripts never read it), SameSite=Lax (no cross-site posts carry it), for the
    session's lifetime."""
    secure = cookie_secure(request, rt)
    response.set_cookie(
        session_cookie_name(secure),
        secret,
        max_age=int(rt.settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def end_session_cookie(response: Response, request: Request, rt: Runtime) -> None:
    """Tell the browser to drop the session cookie (same attributes, or it keeps it)."""
    secure = cookie_secure(request, rt)
    response.delete_cookie(
        session_cookie_name(secure), path="/", httponly=True, samesite="lax", secure=secure
    )
