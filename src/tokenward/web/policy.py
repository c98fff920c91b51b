"""Admin: the lifetime policy — ``/ui/admin/policy`` — viewed and edited; a refused value is
named next to its field."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput
from tokenward.domain.policy import ABSOLUTE_MAX_DAYS, Policy
from tokenward.web.admin_audit import audit_failure
from tokenward.web.flash import Flash, carried, redirect_with, shown
from tokenward.web.forms import Viewer, admin_action, admin_page, form_text
from tokenward.web.pages import render

__all__ = ["FIELDS", "edit", "view"]

BASE = "/ui/admin/policy"
# Form field name → the policy document's field (the service's names in its errors).
FIELDS = {
    "user_default_days": "user_token.default_days",
    "user_max_days": "user_token.max_days",
    "admin_default_days": "admin_key.default_days",
    "admin_max_days": "admin_key.max_days",
}
_NUMBER_MESSAGE = "must be a whole number of days"
_NAMES = {
    "user_default_days": "User tokens' default lifetime",
    "user_max_days": "User tokens' maximum lifetime",
    "user_allow_no_expiry": "Tokens that never expire",
    "admin_default_days": "Admin keys' default lifetime",
    "admin_max_days": "Admin keys' maximum lifetime",
    "reminder_days": "Expiry reminders",
    "revoke_family_on_reuse": "Reuse of a rotated token",
}


def _values(policy: Policy) -> dict[str, str]:
    return {
        "user_default_days": str(policy.user_token.default_days),
        "user_max_days": str(policy.user_token.max_days),
        "user_allow_no_expiry": "yes" if policy.user_token.allow_no_expiry else "",
        "admin_default_days": str(policy.admin_key.default_days),
        "admin_max_days": str(policy.admin_key.max_days),
        "reminder_days": ", ".join(str(d) for d in sorted(policy.reminder_days, reverse=True)),
        "revoke_family_on_reuse": "yes" if policy.revoke_family_on_reuse else "",
    }


def _form_page(viewer: Viewer, values: dict[str, str], flash: Flash) -> Response:
    return render(
        "admin/policy.html",
        viewer=viewer,
        section="policy",
        title="Lifetime policy",
        values=values,
        errors=flash.errors,
        notice=flash.notice,
        absolute_max=ABSOLUTE_MAX_DAYS,
    )


@admin_page
def view(viewer: Viewer) -> Response:
    """The policy in force, or the form as typed with its error when it comes back refused."""
    flash = carried(viewer)
    stored = _values(viewer.rt.policies.current())
    values = {name: flash.text(name) for name in stored} if flash.errors else stored
    return shown(viewer, _form_page(viewer, values, flash))


@admin_action
def edit(viewer: Viewer, form: FormData) -> Response:
    """Store a whole new policy, validated by the service (and audited there)."""
    values = {name: form_text(form, name).strip() for name in _values(Policy())}
    try:
        viewer.rt.policies.update(_document(values), viewer.actor)
    except InvalidInput as error:
        audit_failure(viewer, f"{error.field}: {error.message}")
        field = _form_field(error.field)
        errors = {field: f"{_NAMES[field]}: {error.message}."}
        return redirect_with(viewer, BASE, Flash(values, errors))
    return redirect_with(viewer, BASE, Flash(notice="Policy saved."))


def _document(values: dict[str, str]) -> dict[str, object]:
    """The policy document the form stands for; a field that is not a number is refused
    here, naming it, before the service sees the rest."""
    days = {name: _number(name, values[name]) for name in FIELDS}
    reminders = [
        _number("reminder_days", part.strip())
        for part in values["reminder_days"].split(",")
        if part.strip()
    ]
    return {
        "user_token": {
            "default_days": days["user_default_days"],
            "max_days": days["user_max_days"],
            "allow_no_expiry": values["user_allow_no_expiry"] == "yes",
        },
        "admin_key": {
            "default_days": days["admin_default_days"],
            "max_days": days["admin_max_days"],
        },
        "reminder_days": reminders,
        "revoke_family_on_reuse": values["revoke_family_on_reuse"] == "yes",
    }


def _number(field: str, value: str) -> int:
    if not value.isdigit() or len(value) > 6:
        raise InvalidInput(FIELDS.get(field, field), _NUMBER_MESSAGE)
    return int(value)


def _form_field(document_field: str) -> str:
    """The form field a policy error concerns (its first field when the whole form is)."""
    for name, field in FIELDS.items():
        if field == document_field:
            return name
    if document_field.startswith("reminder_days"):
        return "reminder_days"
    if document_field == "user_token.allow_no_expiry":
        return "user_allow_no_expiry"
    if document_field == "revoke_family_on_reuse":
        return document_field
    return "user_default_days"
