"""Admin: admin API keys — ``/ui/admin/keys`` — list, create (the policy's default and maximum
lifetime shown in the form), revoke."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput
from tokenward.domain.tokens import TokenKind
from tokenward.service import NewToken
from tokenward.web.admin_audit import audit_failure
from tokenward.web.flash import Flash, carried, redirect_with, shown
from tokenward.web.forms import Viewer, admin_action, admin_page, form_text
from tokenward.web.once import acts_once
from tokenward.web.org_tokens import revoke_for, revoke_page_for, usernames
from tokenward.web.pages import render
from tokenward.web.tokens import PAGE_SIZE, not_found, scope_choices, secret_page, status_filter

__all__ = ["create", "listing", "revoke", "revoke_page"]

BASE = "/ui/admin/keys"


def _keys_page(viewer: Viewer, flash: Flash) -> Response:
    rule = viewer.rt.policies.current().admin_key
    try:
        found = viewer.rt.tokens.list(
            None,
            status=status_filter(viewer),
            kind=TokenKind.ADMIN,
            cursor=viewer.param("cursor"),
            limit=PAGE_SIZE,
        )
    except InvalidInput:
        return not_found(viewer)
    values = flash.values or {"label": "", "days": str(rule.default_days), "scopes": ["admin"]}
    return render(
        "admin/keys.html",
        viewer=viewer,
        section="keys",
        title="Admin API keys",
        page=found,
        names=usernames(viewer),
        rule=rule,
        scopes=scope_choices(viewer, TokenKind.ADMIN),
        errors=flash.errors,
        values=values,
        now=viewer.rt.clock.now(),
    )


@admin_page
def listing(viewer: Viewer) -> Response:
    """Every admin key, and the form to create one (as typed, when it comes back refused)."""
    return shown(viewer, _keys_page(viewer, carried(viewer)))


@admin_action
@acts_once
def create(viewer: Viewer, form: FormData) -> Response:
    """An admin key owned by this admin; its secret is shown once."""
    label, days = form_text(form, "label"), form_text(form, "days").strip()
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    values: dict[str, object] = {"label": label, "days": days, "scopes": scopes}
    try:
        if not days.isdigit() or len(days) > 4:
            raise InvalidInput("days", "must be a whole number of days")
        created = viewer.rt.tokens.create(
            viewer.principal.user,
            NewToken(label, tuple(scopes), expires_in_days=int(days)),
            by=viewer.actor,
            kind=TokenKind.ADMIN,
        )
    except InvalidInput as error:
        audit_failure(viewer, f"{error.field}: {error.message}")
        field = "days" if error.field == "expires_in_days" else error.field
        names = {"days": "Lifetime", "label": "Label", "scopes": "Scopes"}
        message = f"{names.get(field, field)}: {error.message}."
        return redirect_with(viewer, BASE, Flash(values, {field: message}))
    return secret_page(viewer, created, back=BASE)


@admin_page
def revoke_page(viewer: Viewer) -> Response:
    return revoke_page_for(viewer, TokenKind.ADMIN, BASE)


@admin_action
def revoke(viewer: Viewer, form: FormData) -> Response:
    return revoke_for(viewer, TokenKind.ADMIN, BASE)
