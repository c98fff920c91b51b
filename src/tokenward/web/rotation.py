"""Rotate one of my tokens: ``/ui/tokens/{id}/rotate`` — a new secret at once, the old one
kept working for a grace period (none, an hour, a day or a week) so deployments can switch."""

from __future__ import annotations

from datetime import timedelta

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import Conflict, InvalidInput, NotFound
from tokenward.domain.tokens import is_id
from tokenward.web import times
from tokenward.web.flash import Flash, carried, redirect_with, shown
from tokenward.web.forms import Viewer, action, page
from tokenward.web.once import acts_once
from tokenward.web.pages import render
from tokenward.web.tokens import not_found, secret_page

__all__ = ["GRACES", "rotate", "rotate_page"]

GRACES = {
    "0": ("None", timedelta(0)),
    "3600": ("1 hour", timedelta(hours=1)),
    "86400": ("1 day", timedelta(days=1)),
    "604800": ("7 days", timedelta(days=7)),
}


@page
def rotate_page(viewer: Viewer) -> Response:
    """The form; its grace as chosen, and why not, when it comes back refused."""
    flash = carried(viewer)
    error = flash.errors.get("grace")
    return shown(viewer, _rotate_form(viewer, flash.text("grace", "3600"), error))


def _rotate_form(viewer: Viewer, grace: str, error: str | None) -> Response:
    try:
        record = viewer.rt.tokens.get(viewer.user_id, viewer.path_param("token_id"))
    except NotFound:
        return not_found(viewer)
    return render(
        "token_rotate.html",
        viewer=viewer,
        section="tokens",
        title="Rotate a token",
        record=record,
        graces={value: label for value, (label, _) in GRACES.items()},
        grace=grace,
        error=error,
        now=viewer.rt.clock.now(),
    )


@action
@acts_once
def rotate(viewer: Viewer, form: FormData) -> Response:
    """A new token with the old one's label, scopes and lifetime length; its secret is shown
    once, like a created one's."""
    token_id, grace = viewer.path_param("token_id"), form.get("grace")
    if not is_id(token_id, "tok"):  # the path goes back into a redirect: only an id may
        return not_found(viewer)
    if not isinstance(grace, str) or grace not in GRACES:
        return _refused(viewer, "3600", "Grace period: choose one of the periods offered.")
    try:
        done = viewer.rt.tokens.rotate(
            token_id,
            owner_id=viewer.user_id,
            by=viewer.actor,
            grace=GRACES[grace][1],
        )
    except NotFound:
        return not_found(viewer)
    except InvalidInput as error:
        return _refused(viewer, grace, f"Grace period: {error.message}.")
    except Conflict as error:  # revoked, expired or already rotated meanwhile
        return _refused(viewer, grace, f"This token cannot be rotated: {error}.")
    rotated = {"grace": GRACES[grace][0], "until": times.utc(done.grace_until)}
    return secret_page(viewer, done.created, back="/ui/tokens", rotated=rotated)


def _refused(viewer: Viewer, grace: str, error: str) -> Response:
    """Back to the form (post/redirect/get), which says why."""
    path = f"/ui/tokens/{viewer.path_param('token_id')}/rotate"
    return redirect_with(viewer, path, Flash({"grace": grace}, {"grace": error}))
