"""Admin: every token of the org — ``/ui/admin/tokens`` — filtered by user, status and kind,
and revoked from there."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput, NotFound
from tokenward.domain.tokens import TokenKind
from tokenward.http.views import kind_named
from tokenward.web.admin_audit import audit_failure
from tokenward.web.forms import Viewer, admin_action, admin_page
from tokenward.web.pages import render
from tokenward.web.tokens import (
    PAGE_SIZE,
    not_found,
    revoke_confirmation,
    revoked_page,
    status_filter,
)

__all__ = ["listing", "revoke", "revoke_page", "revoke_page_for", "usernames"]


def usernames(viewer: Viewer) -> dict[str, str]:
    """Every user's name by id, to show owners by name."""
    return {user.id: user.username for user, _ in viewer.rt.accounts.list()}


@admin_page
def listing(viewer: Viewer) -> Response:
    """Every token, newest first; ``?user=`` takes a name or an id."""
    names = usernames(viewer)
    wanted = viewer.param("user")
    owner = _owner_id(names, wanted)
    kind = kind_named(viewer.param("kind"))
    status = status_filter(viewer)
    found = None
    if wanted is None or owner is not None:
        try:
            found = viewer.rt.tokens.list(
                owner, status=status, kind=kind, cursor=viewer.param("cursor"), limit=PAGE_SIZE
            )
        except InvalidInput:
            return not_found(viewer)
    return render(
        "admin/tokens.html",
        viewer=viewer,
        section="all-tokens",
        title="All tokens",
        page=found,
        names=names,
        filters={
            "user": wanted or "",
            "status": status.value if status else "",
            "kind": viewer.param("kind") if kind else "",
        },
        now=viewer.rt.clock.now(),
    )


def _owner_id(names: dict[str, str], wanted: str | None) -> str | None:
    if wanted is None or wanted in names:
        return wanted
    folded = wanted.strip().casefold()
    return next((uid for uid, name in names.items() if name == folded), None)


def revoke_page_for(viewer: Viewer, kind: TokenKind | None, base: str) -> Response:
    """The confirmation page of an admin revoke, any owner's token (of ``kind``)."""
    try:
        record = viewer.rt.tokens.get(None, viewer.path_param("token_id"))
    except NotFound:
        return not_found(viewer)
    if kind is not None and record.kind is not kind:
        return not_found(viewer)
    owner = usernames(viewer).get(record.user_id, record.user_id)
    return revoke_confirmation(viewer, record, base, owner=owner)


def revoke_for(viewer: Viewer, kind: TokenKind | None, base: str) -> Response:
    """Revoke any owner's token (of ``kind``), audited as the API's admin revoke."""
    try:
        done = viewer.rt.tokens.revoke(
            viewer.path_param("token_id"),
            by=viewer.actor,
            owner_id=None,
            reason="admin",
            kind=kind,
        )
    except NotFound:
        audit_failure(viewer, "not found")
        return not_found(viewer)
    return revoked_page(viewer, done, back=base)


@admin_page
def revoke_page(viewer: Viewer) -> Response:
    return revoke_page_for(viewer, None, "/ui/admin/tokens")


@admin_action
def revoke(viewer: Viewer, form: FormData) -> Response:
    return revoke_for(viewer, None, "/ui/admin/tokens")
