"""Passwords in the UI: ``/ui/account`` (change one's own) and
``/ui/admin/users/{user_id}/password`` (an admin sets someone's). Each form states the
length rule; each change ends the account's other sessions and is audited."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput, NotFound, RateLimited
from tokenward.domain.model import UserRecord
from tokenward.web.admin_audit import audit_failure
from tokenward.web.forms import Viewer, action, admin_action, admin_page, form_text, page
from tokenward.web.pages import render
from tokenward.web.tokens import not_found

__all__ = ["account", "change", "reset", "reset_page"]

_LABELS = {
    "current_password": "Current password",
    "new_password": "New password",
    "repeat_password": "New password, again",
}


def _account_page(
    viewer: Viewer,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    return render(
        "account.html",
        status,
        viewer=viewer,
        section="account",
        title="Your account",
        errors=errors or {},
        notice=notice,
        replace_url="/ui/account" if notice else None,
    )


def _error(field: str, message: str) -> dict[str, str]:
    return {field: f"{_LABELS.get(field, field)}: {message}."}


def _new_password(form: FormData) -> str:
    """The new password, if typed the same twice; :class:`InvalidInput` otherwise."""
    new = form_text(form, "new_password")
    if new != form_text(form, "repeat_password"):
        raise InvalidInput("repeat_password", "does not match the new password")
    return new


def _ended(count: int) -> str:
    return f"{count} other session{'' if count == 1 else 's'} ended"


@page
def account(viewer: Viewer) -> Response:
    """Who is signed in, and the form to change one's password."""
    return _account_page(viewer)


@action
def change(viewer: Viewer, form: FormData) -> Response:
    """Change one's own password; this session goes on, every other one ends."""
    session = viewer.principal.session
    try:
        done = viewer.rt.credentials.change(
            viewer.user_id,
            form_text(form, "current_password"),
            _new_password(form),
            viewer.actor,
            keep_session=None if session is None else session.id,
        )
    except InvalidInput as error:
        return _account_page(viewer, status=422, errors=_error(error.field, error.message))
    except RateLimited as limited:
        wait = f"too many wrong attempts; wait {limited.retry_after} seconds"
        response = _account_page(viewer, status=429, errors=_error("current_password", wait))
        response.headers["retry-after"] = str(limited.retry_after)
        return response
    notice = f"Password changed; {_ended(done.sessions_ended)}. Your API tokens keep working."
    return _account_page(viewer, notice=notice)


def _target(viewer: Viewer) -> UserRecord | None:
    try:
        return viewer.rt.accounts.by_id(viewer.path_param("user_id"))
    except NotFound:
        return None


def _reset_page(
    viewer: Viewer,
    user: UserRecord,
    status: int = 200,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    return render(
        "admin/user_password.html",
        status,
        viewer=viewer,
        section="users",
        title=f"Set the password of {user.username}",
        user=user,
        errors=errors or {},
        notice=notice,
        replace_url="/ui/admin/users" if notice else None,
    )


@admin_page
def reset_page(viewer: Viewer) -> Response:
    user = _target(viewer)
    return not_found(viewer) if user is None else _reset_page(viewer, user)


@admin_action
def reset(viewer: Viewer, form: FormData) -> Response:
    """Set a user's password; every session of theirs ends (the admin's own one goes on)."""
    user = _target(viewer)
    if user is None:
        audit_failure(viewer, "not found")
        return not_found(viewer)
    session = viewer.principal.session
    keep = session.id if session is not None and user.id == viewer.user_id else None
    try:
        done = viewer.rt.credentials.reset(user.id, _new_password(form), viewer.actor, keep)
    except InvalidInput as error:
        audit_failure(viewer, f"{error.field}: {error.message}")
        return _reset_page(viewer, user, 422, _error(error.field, error.message))
    ended = done.sessions_ended
    notice = f"Password of {user.username} set; {ended} session{'' if ended == 1 else 's'} ended."
    return _reset_page(viewer, user, notice=notice)
