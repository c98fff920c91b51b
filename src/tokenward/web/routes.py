"""The UI's routes: ``/`` (a redirect), ``/ui/…`` pages and form posts, ``/static/…``.

Every response under ``/ui`` and ``/static`` carries the security headers (see
:class:`~tokenward.web.pages.SecurityHeaders`), error pages included.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.web import (
    account,
    audit,
    keys,
    org_tokens,
    passwords,
    policy,
    rotation,
    tokens,
    users,
)
from tokenward.web.forms import viewer_of
from tokenward.web.pages import SecurityHeaders, render

__all__ = ["STATIC", "HtmlErrors", "ui_routes"]

STATIC = Path(__file__).with_name("static")
_GET, _POST = ["GET"], ["POST"]


def _ui() -> Router:
    routes = [
        Route("/login", account.login_page, methods=_GET),
        Route("/login", account.login, methods=_POST),
        Route("/logout", account.logout, methods=_POST),
        Route("/logout-all", account.logout_all_page, methods=_GET),
        Route("/logout-all", account.logout_all, methods=_POST),
        Route("/account", passwords.account, methods=_GET),
        Route("/account/password", passwords.change, methods=_POST),
        Route("/tokens", tokens.listing, methods=_GET),
        Route("/tokens/create", tokens.create_page, methods=_GET),
        Route("/tokens/create", tokens.create, methods=_POST),
        Route("/tokens/{token_id}/revoke", tokens.revoke_page, methods=_GET),
        Route("/tokens/{token_id}/revoke", tokens.revoke, methods=_POST),
        Route("/tokens/{token_id}/rotate", rotation.rotate_page, methods=_GET),
        Route("/tokens/{token_id}/rotate", rotation.rotate, methods=_POST),
        Route("/admin/users", users.listing, methods=_GET),
        Route("/admin/users/create", users.create, methods=_POST),
        Route("/admin/users/{user_id}/deactivate", users.deactivate_page, methods=_GET),
        Route("/admin/users/{user_id}/deactivate", users.deactivate, methods=_POST),
        Route("/admin/users/{user_id}/reactivate", users.reactivate, methods=_POST),
        Route("/admin/users/{user_id}/password", passwords.reset_page, methods=_GET),
        Route("/admin/users/{user_id}/password", passwords.reset, methods=_POST),
        Route("/admin/tokens", org_tokens.listing, methods=_GET),
        Route("/admin/tokens/{token_id}/revoke", org_tokens.revoke_page, methods=_GET),
        Route("/admin/tokens/{token_id}/revoke", org_tokens.revoke, methods=_POST),
        Route("/admin/keys", keys.listing, methods=_GET),
        Route("/admin/keys/create", keys.create, methods=_POST),
        Route("/admin/keys/{token_id}/revoke", keys.revoke_page, methods=_GET),
        Route("/admin/keys/{token_id}/revoke", keys.revoke, methods=_POST),
        Route("/admin/audit", audit.listing, methods=_GET),
        Route("/admin/policy", policy.view, methods=_GET),
        Route("/admin/policy", policy.edit, methods=_POST),
    ]
    return Router(routes)


_ERRORS = {
    404: ("Not found", "There is no such page, or it is not yours to see."),
    405: ("Not allowed", "This address does not take that kind of request."),
}


class HtmlErrors:
    """HTTP errors raised below (no such page or file, a wrong method) answered as HTML pages
    here, inside the security headers, rather than as the API's problem documents."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except HTTPException as error:  # raised before any answer was started
            title, message = _ERRORS.get(error.status_code, ("Error", str(error.detail)))
            response: Response = render(
                "error.html",
                error.status_code,
                headers=dict(error.headers or {}),
                viewer=viewer_of(Request(scope, receive)),
                title=title,
                message=message,
            )
            await response(scope, receive, send)


def ui_routes() -> list[BaseRoute]:
    """The routes to add to the app."""
    return [
        Route("/", account.home, methods=_GET, include_in_schema=False),
        Route("/ui", account.home, methods=_GET, include_in_schema=False),
        Mount("/ui", app=SecurityHeaders(HtmlErrors(_ui()))),
        Mount(
            "/static",
            app=SecurityHeaders(
                HtmlErrors(StaticFiles(directory=STATIC)), cache_control="no-cache"
            ),
        ),
    ]
