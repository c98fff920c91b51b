"""My tokens: ``/ui/tokens`` — list, create (the secret shown once), revoke."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput, NotFound
from tokenward.domain.model import TokenRecord, TokenStatus
from tokenward.domain.scopes import describe
from tokenward.domain.tokens import TokenKind
from tokenward.service import CreatedToken, Revocation
from tokenward.web.flash import Flash, carried, redirect_with, shown
from tokenward.web.forms import Viewer, action, page
from tokenward.web.once import acts_once
from tokenward.web.pages import render
from tokenward.web.token_forms import TokenForm, field_error, presets, read_token_form

__all__ = [
    "NO_STORE",
    "create",
    "create_page",
    "listing",
    "not_found",
    "revoke",
    "revoke_confirmation",
    "revoke_page",
    "revoked_page",
    "scope_choices",
    "secret_page",
]

# A page holding a secret is never stored by the browser or a proxy (API.md: create, rotate).
NO_STORE = {"Cache-Control": "no-store"}
PAGE_SIZE = 50
# The navigation entry a result page belongs to, by the page it leads back to.
_SECTION_OF = {"/ui/tokens": "tokens", "/ui/admin/tokens": "all-tokens", "/ui/admin/keys": "keys"}


def status_filter(viewer: Viewer) -> TokenStatus | None:
    """The ``?status=`` asked for; anything unknown means every status."""
    wanted = viewer.param("status")
    return next((s for s in TokenStatus if s.value == wanted), None)


@page
def listing(viewer: Viewer) -> Response:
    """The person's tokens, newest first, filtered by status."""
    status = status_filter(viewer)
    try:
        found = viewer.rt.tokens.list(
            viewer.user_id, status=status, cursor=viewer.param("cursor"), limit=PAGE_SIZE
        )
    except InvalidInput:
        return not_found(viewer)  # a cursor we never issued: there is no such page
    return render(
        "tokens.html",
        viewer=viewer,
        section="tokens",
        title="My tokens",
        page=found,
        chosen=status.value if status else "",
        statuses=[s.value for s in TokenStatus],
        now=viewer.rt.clock.now(),
    )


@page
def create_page(viewer: Viewer) -> Response:
    """The form, as it was typed and with its errors when it comes back refused."""
    flash = carried(viewer)
    values = TokenForm.from_values(flash.values) if flash.errors else TokenForm()
    return shown(viewer, _create_form(viewer, values, flash.errors))


def _create_form(viewer: Viewer, values: TokenForm, errors: dict[str, str]) -> Response:
    rule = viewer.rt.policies.current().user_token
    if not values.lifetime and not errors:
        values = dataclasses.replace(values, lifetime=str(rule.default_days))
    today = viewer.rt.clock.now().date()
    return render(
        "token_new.html",
        viewer=viewer,
        section="tokens",
        title="Create a token",
        values=values,
        errors=errors,
        rule=rule,
        presets=presets(rule),
        scopes=scope_choices(viewer, TokenKind.USER),
        first_day=today + timedelta(days=1),
        last_day=today + timedelta(days=rule.max_days),
    )


def scope_choices(viewer: Viewer, kind: TokenKind) -> list[tuple[str, str]]:
    """The scopes a token of ``kind`` may carry, by name, each with its description."""
    described = viewer.rt.settings.scope_descriptions
    return [(s, describe(s, described)) for s in sorted(viewer.rt.tokens.scopes_for(kind))]


@action
@acts_once
def create(viewer: Viewer, form: FormData) -> Response:
    """Create a token and show its secret once, in this answer only (never in a URL); a
    refused form goes back to its page (post/redirect/get)."""
    values = read_token_form(form)
    try:
        created = viewer.rt.tokens.create(viewer.principal.user, values.request(), by=viewer.actor)
    except InvalidInput as error:
        field, message = field_error(error)
        flash = Flash(dataclasses.asdict(values), {field: message})
        return redirect_with(viewer, "/ui/tokens/create", flash)
    return secret_page(viewer, created, back="/ui/tokens")


def secret_page(
    viewer: Viewer, created: CreatedToken, back: str, rotated: dict[str, str] | None = None
) -> Response:
    """The one page a secret is ever shown on: not cached, and replaced in the history by
    ``back`` (the browser's reload then shows the list, not the form post again)."""
    return render(
        "token_created.html",
        201,
        headers=NO_STORE,
        viewer=viewer,
        section=_SECTION_OF.get(back, ""),
        title="Token created",
        created=created,
        back=back,
        replace_url=back,
        rotated=rotated,
        now=viewer.rt.clock.now(),
    )


@page
def revoke_page(viewer: Viewer) -> Response:
    """Confirm before revoking: what the token is, and how soon the revocation holds."""
    try:
        record = viewer.rt.tokens.get(viewer.user_id, viewer.path_param("token_id"))
    except NotFound:
        return not_found(viewer)
    return revoke_confirmation(viewer, record, "/ui/tokens")


def revoke_confirmation(
    viewer: Viewer, record: TokenRecord, back: str, owner: str | None = None
) -> Response:
    """The page that confirms revoking ``record`` from the list at ``back`` (an admin's page
    also names the ``owner``)."""
    return render(
        "token_revoke.html",
        viewer=viewer,
        section=_SECTION_OF.get(back, ""),
        title="Revoke a token",
        record=record,
        action=f"{back}/{record.id}/revoke",
        back=back,
        staleness_ms=int(viewer.rt.settings.max_staleness.total_seconds() * 1000),
        now=viewer.rt.clock.now(),
        owner=owner,
    )


@action
def revoke(viewer: Viewer, form: FormData) -> Response:
    """Revoke one of the person's tokens, then say when every node refuses it."""
    try:
        done = viewer.rt.tokens.revoke(
            viewer.path_param("token_id"), by=viewer.actor, owner_id=viewer.user_id
        )
    except NotFound:
        return not_found(viewer)
    return revoked_page(viewer, done, back="/ui/tokens")


def revoked_page(viewer: Viewer, done: Revocation, back: str) -> Response:
    """When the revocation holds everywhere: ``effective_by``, and the live nodes that have
    already applied it (waited for, at most until ``effective_by``, as ``?wait=true`` does)."""
    settled = viewer.rt.receipts.wait_for(done.seq, done.effective_by)
    return render(
        "token_revoked.html",
        viewer=viewer,
        section=_SECTION_OF.get(back, ""),
        title="Token revoked",
        done=done,
        settled=settled,
        back=back,
        replace_url=back,
    )


def not_found(viewer: Viewer) -> Response:
    message = "There is no such page, or it is not yours to see."
    return render("error.html", 404, viewer=viewer, title="Not found", message=message)
