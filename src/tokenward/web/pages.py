"""Rendering: the Jinja environment (autoescape always on), pages, and the security headers
every UI response carries."""

from __future__ import annotations

import secrets
from typing import Any

import jinja2
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.passwords import MAX_LENGTH, MIN_LENGTH
from tokenward.web import times

__all__ = ["SECURITY_HEADERS", "SecurityHeaders", "new_form_id", "redirect", "render"]

# No 'unsafe-inline' anywhere: an injected <script> or style attribute would not run even if
# escaping failed somewhere. form-action 'self' keeps a form from posting our CSRF token away.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tokenward.web", "templates"),
    autoescape=True,  # every template, whatever its name: user strings are always escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["utc"] = times.utc
_ENV.globals["relative"] = times.relative
_ENV.globals["expiry_state"] = times.expiry_state
_ENV.globals["password_length"] = (MIN_LENGTH, MAX_LENGTH)  # stated in every password form


def new_form_id() -> str:
    """A fresh id for one rendering of a form that must act once (see tokenward.web.once)."""
    return secrets.token_urlsafe(16)


_ENV.globals["new_form_id"] = new_form_id


def render(
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` rendered with ``context``."""
    context.setdefault("viewer", None)
    context.setdefault("replace_url", None)
    context.setdefault("section", "")
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def redirect(path: str) -> Response:
    """303 See Other: after a form post, the browser GETs ``path``."""
    return RedirectResponse(path, status_code=303)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response of the wrapped app, and
    ``Cache-Control: no-store`` where the app set no caching (pages hold personal data and
    CSRF tokens, and must not come back from a cache after logout)."""

    def __init__(self, app: ASGIApp, cache_control: str = "no-store") -> None:
        self.app = app
        self.cache_control = cache_control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = self.cache_control
            await send(message)

        await self.app(scope, receive, secured)
