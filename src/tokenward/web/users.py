"""Admin: users — ``/ui/admin/users``: create, deactivate (after seeing what it stops),
reactivate."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import Conflict, InvalidInput, NotFound
from tokenward.domain.model import UserRecord
from tokenward.web.admin_audit import audit_failure
from tokenward.web.flash import Flash, carried, redirect_with, shown
from tokenward.web.forms import Viewer, admin_action, admin_page, form_text
from tokenward.web.pages import render
from tokenward.web.tokens import not_found

__all__ = ["create", "deactivate", "deactivate_page", "listing", "reactivate"]


BASE = "/ui/admin/users"


def _users_page(viewer: Viewer, flash: Flash) -> Response:
    return render(
        "admin/users.html",
        viewer=viewer,
        section="users",
        title="Users",
        users=viewer.rt.accounts.list(),
        errors=flash.errors,
        values={name: flash.text(name) for name in ("username", "is_admin", "email")},
        notice=flash.notice,
        problem=flash.problem,
    )


@admin_page
def listing(viewer: Viewer) -> Response:
    """Every user with their status and number of active tokens, and the new-user form."""
    return shown(viewer, _users_page(viewer, carried(viewer)))


@admin_action
def create(viewer: Viewer, form: FormData) -> Response:
    """Add a user; a refused form goes back as typed (the password aside), naming the field."""
    values = {
        "username": form_text(form, "username"),
        "is_admin": form_text(form, "is_admin"),
        "email": form_text(form, "email").strip(),
    }
    try:
        user = viewer.rt.accounts.create_user(
            values["username"],
            form_text(form, "password"),
            is_admin=values["is_admin"] == "yes",
            by=viewer.actor,
            email=values["email"] or None,
        )
    except InvalidInput as error:
        audit_failure(viewer, f"{error.field}: {error.message}")
        errors = {error.field: f"{error.field.capitalize()}: {error.message}."}
        return redirect_with(viewer, BASE, Flash(values, errors))
    except Conflict as error:
        audit_failure(viewer, str(error))
        errors = {"username": f"Username: {error}."}
        return redirect_with(viewer, BASE, Flash(values, errors))
    return redirect_with(viewer, BASE, Flash(notice=f"Created {user.username}."))


def _user_and_count(viewer: Viewer) -> tuple[UserRecord, int] | None:
    wanted = viewer.path_param("user_id")
    return next(((u, n) for u, n in viewer.rt.accounts.list() if u.id == wanted), None)


@admin_page
def deactivate_page(viewer: Viewer) -> Response:
    """What deactivating stops, counted, before the admin confirms."""
    found = _user_and_count(viewer)
    if found is None:
        return not_found(viewer)
    user, active_tokens = found
    return render(
        "admin/user_deactivate.html",
        viewer=viewer,
        section="users",
        title=f"Deactivate {user.username}",
        user=user,
        active_tokens=active_tokens,
    )


@admin_action
def deactivate(viewer: Viewer, form: FormData) -> Response:
    """Every token and session of the account stops; the answer counts them and says when it
    holds on every node."""
    try:
        done = viewer.rt.accounts.deactivate(viewer.path_param("user_id"), viewer.actor)
    except NotFound:
        audit_failure(viewer, "not found")
        return not_found(viewer)
    except Conflict as error:
        audit_failure(viewer, str(error))
        return redirect_with(viewer, BASE, Flash(problem=f"Not deactivated: {error}."))
    settled = viewer.rt.receipts.wait_for(done.seq, done.effective_by)
    return render(
        "admin/user_deactivated.html",
        viewer=viewer,
        section="users",
        title="User deactivated",
        done=done,
        settled=settled,
        replace_url=BASE,
    )


@admin_action
def reactivate(viewer: Viewer, form: FormData) -> Response:
    """Login works again; revoked tokens stay revoked."""
    try:
        user = viewer.rt.accounts.reactivate(viewer.path_param("user_id"), viewer.actor)
    except NotFound:
        audit_failure(viewer, "not found")
        return not_found(viewer)
    notice = f"Reactivated {user.username}. Their revoked tokens stay revoked."
    return redirect_with(viewer, BASE, Flash(notice=notice))
