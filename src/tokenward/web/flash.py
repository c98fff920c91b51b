"""Post/redirect/get: a form post is answered with a redirect to a page, never with a page.

A refused form goes back to its page by ``303 See Other``, carrying what was typed and the
errors in a short-lived cookie for that page's path only; a change that worked does the same
with its notice. The page reads the cookie and drops it. So every entry the browser keeps in
its history was fetched with GET, and Back or reload never asks to send a form again.

The cookie is signed with the session's CSRF token (HMAC-SHA256), so another site or another
session cannot plant one, and it never holds a password. (Pages that show a new secret are
the exception: the secret is shown in the answer to the post, never put in a URL or a cookie;
they replace their history entry with the list instead, see ``replace_url``.)
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

from starlette.responses import RedirectResponse, Response

from tokenward.http.cookies import cookie_secure
from tokenward.web.forms import Viewer

__all__ = ["COOKIE", "Flash", "carried", "is_refusal", "redirect_with", "shown"]

COOKIE = "tw_flash"
_MAX_AGE = 120  # seconds: the redirect is followed at once; a stale one is not shown later


@dataclasses.dataclass(frozen=True)
class Flash:
    """What a page shows once after a post: the form as typed with its errors, or a notice
    (or a problem) about what was done."""

    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    notice: str | None = None
    problem: str | None = None

    def text(self, name: str, default: str = "") -> str:
        value = self.values.get(name, default)
        return value if isinstance(value, str) else default

    def texts(self, name: str) -> list[str]:
        value = self.values.get(name)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class _Redirect(RedirectResponse):
    """A 303 carrying a flash; ``refused`` when it sends a form back with errors."""

    def __init__(self, path: str, refused: bool) -> None:
        super().__init__(path, status_code=303)
        self.refused = refused


def redirect_with(viewer: Viewer, path: str, flash: Flash) -> Response:
    """303 to ``path`` (a path of ours), which shows ``flash`` once."""
    response = _Redirect(path, refused=bool(flash.errors))
    payload = base64.urlsafe_b64encode(json.dumps(dataclasses.asdict(flash)).encode()).decode()
    response.set_cookie(
        COOKIE,
        f"{payload}.{_signature(viewer, path, payload)}",
        max_age=_MAX_AGE,
        path=path,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(viewer.request, viewer.rt),
    )
    return response


def is_refusal(response: Response) -> bool:
    """True for a redirect that sends a refused form back (nothing was done)."""
    return isinstance(response, _Redirect) and response.refused


def carried(viewer: Viewer) -> Flash:
    """The flash sent to this page by the post before, or an empty one (none, or not ours)."""
    payload, _, signature = viewer.request.cookies.get(COOKIE, "").partition(".")
    expected = _signature(viewer, viewer.request.url.path, payload)
    if not payload or not hmac.compare_digest(signature.encode(), expected.encode()):
        return Flash()
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload))
        return Flash(**fields)
    except (ValueError, TypeError):
        return Flash()


def shown(viewer: Viewer, response: Response) -> Response:
    """``response`` with the flash cookie dropped: it is shown once."""
    if COOKIE in viewer.request.cookies:
        response.delete_cookie(COOKIE, path=viewer.request.url.path)
    return response


def _signature(viewer: Viewer, path: str, payload: str) -> str:
    message = f"{path}\0{payload}".encode()
    return hmac.new(viewer.csrf_token.encode(), message, hashlib.sha256).hexdigest()
