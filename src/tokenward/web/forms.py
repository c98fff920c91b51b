"""Who is looking, and the guards every UI endpoint goes through: a live web session, the
CSRF token of every form post, and the admin check.

Every state-changing UI endpoint is built with :func:`action` (or :func:`admin_action`), which
checks the form's ``csrf_token`` field before anything else runs, so no UI form post can skip
it. (The authentication middleware checks the ``X-CSRF-Token`` header for the API; HTML forms
cannot send headers, so it leaves ``/ui/`` posts to these guards.)
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from tokenward.domain.model import Actor, Principal
from tokenward.domain.scopes import ADMIN
from tokenward.http.access_log import redacted
from tokenward.http.auth import SESSION_SECRET, principal_of
from tokenward.http.dependencies import actor_of, runtime
from tokenward.runtime import Runtime
from tokenward.service.sessions import csrf_token_for
from tokenward.web.pages import redirect, render

__all__ = [
    "ActionView",
    "Endpoint",
    "Viewer",
    "action",
    "admin_action",
    "admin_page",
    "attempted",
    "csrf_matches",
    "form_text",
    "page",
    "viewer_of",
]

Endpoint = Callable[[Request], Awaitable[Response]]
PageView = Callable[["Viewer"], Response]
ActionView = Callable[["Viewer", FormData], Response]
_MAX_FIELDS = 50  # the biggest UI form has a dozen; refuse floods before parsing them


@dataclasses.dataclass(frozen=True)
class Viewer:
    """The person behind a request: a live web session, with what the views need of it."""

    principal: Principal
    csrf_token: str
    request: Request
    rt: Runtime

    @property
    def username(self) -> str:
        return self.principal.user.username

    @property
    def user_id(self) -> str:
        return self.principal.user.id

    @property
    def is_admin(self) -> bool:
        """The API's rule: an org admin acting with the ``admin`` scope."""
        return self.principal.user.is_admin and self.principal.has_scope(ADMIN)

    @property
    def actor(self) -> Actor:
        """The audit view of this person: the session id, client address and user agent."""
        return actor_of(self.principal.actor, self.request)

    def param(self, name: str) -> str | None:
        """A query parameter, or ``None`` when absent or empty."""
        return self.request.query_params.get(name) or None

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])


def viewer_of(request: Request) -> Viewer | None:
    """The viewer of a request made with a live session cookie; ``None`` otherwise (a bearer
    token is for the API, not for pages)."""
    principal = principal_of(request.scope)
    secret: str | None = request.scope.get(SESSION_SECRET)
    if principal is None or principal.session is None or secret is None:
        return None
    return Viewer(principal, csrf_token_for(secret), request, runtime(request))


def csrf_matches(presented: object, expected: str) -> bool:
    """Constant-time comparison of a form's ``csrf_token`` with the expected one."""
    if not isinstance(presented, str):
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def form_text(form: FormData, name: str) -> str:
    """A form field's text; ``""`` when absent or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def attempted(request: Request) -> tuple[str, str]:
    """How the audit names a UI admin attempt: the action (the path with any pasted secret
    redacted) and the subject, the route's template as the API's (the path is the caller's
    text)."""
    route = str(getattr(request.scope.get("route"), "path", ""))
    return f"{request.method} {redacted(request.url.path)}"[:256], f"/ui{route}"[:256]


def page(view: PageView) -> Endpoint:
    """A page for a logged-in person; others are sent to the login page."""

    async def endpoint(request: Request) -> Response:
        viewer = viewer_of(request)
        if viewer is None:
            return redirect("/ui/login")
        return await run_in_threadpool(view, viewer)

    return endpoint


def action(view: ActionView) -> Endpoint:
    """A form post for a logged-in person, refused (403, nothing changed) unless its
    ``csrf_token`` field matches the session's."""

    async def endpoint(request: Request) -> Response:
        viewer = viewer_of(request)
        if viewer is None:
            return redirect("/ui/login")
        form = await request.form(max_files=0, max_fields=_MAX_FIELDS)
        if not csrf_matches(form.get("csrf_token"), viewer.csrf_token):
            return refused_csrf(viewer)
        return await run_in_threadpool(view, viewer, form)

    return endpoint


def admin_page(view: PageView) -> Endpoint:
    """:func:`page` for admins only; anyone else gets a 403 page, and the refusal is audited."""
    return page(_admin_only(view))


def admin_action(view: ActionView) -> Endpoint:
    """:func:`action` for admins only (the CSRF check comes first, as for every post)."""
    return action(_admin_only(view))


def _admin_only(view: Callable[..., Response]) -> Callable[..., Response]:
    def guarded(viewer: Viewer, *args: Any) -> Response:
        if viewer.is_admin:
            return view(viewer, *args)
        action, subject = attempted(viewer.request)
        viewer.rt.audit.denied(viewer.actor, action, subject, "the caller is not an admin")
        return render("error.html", 403, viewer=viewer, title="Admins only", message=_NOT_ADMIN)

    return guarded


_NOT_ADMIN = "This page is for organisation admins. Ask an admin if you need something here."


def refused_csrf(viewer: Viewer | None) -> Response:
    """403: a form post without the right CSRF token changes nothing."""
    return render(
        "error.html",
        403,
        viewer=viewer,
        title="Form refused",
        message="This form was sent without a valid security token (it may be stale, or come "
        "from another site). Nothing was changed. Go back, reload the page and try again.",
    )
