"""Admin: the lifetime policy — ``/ui/admin/policy`` — viewed and edited; a refused value is
named next to its field."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput
from tokenward.domain.policy import ABSOLUTE_MAX_DAYS, Policy
from tokenward.web.admin_audit import audit_failure
from tokenward.web.forms import Viewer, admin_action, admin_page, form_text
from tokenward.web.pages import render

__all__ = ["FIELDS", "edit", "view"]

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
}


def _values(policy: Policy) -> dict[str, str]:
    return {
        "user_default_days": str(policy.user_token.default_days),
        "user_max_days": str(policy.user_token.max_days),
        "user_allow_no_expiry": "yes" if policy.user_token.allow_no_expiry else "",
        "admin_default_days": str(policy.admin_key.default_days),
        "admin_max_days": str(policy.admin_key.max_days),
        "reminder_days": ", ".join(str(d) for d in sorted(policy.reminder_days, reverse=True)),
    }


def _form_page(
    viewer: Viewer,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    return render(
        "admin/policy.html",
        422 if errors else 200,
        viewer=viewer,
        section="policy",
        title="Lifetime policy",
        values=values,
        errors=errors or {},
        notice=notice,
        absolute_max=ABSOLUTE_MAX_DAYS,
        replace_url="/ui/admin/policy" if notice else None,
    )


@admin_page
def view(viewer: Viewer) -> Response:
    return _form_page(viewer, _values(viewer.rt.policies.current()))


@admin_action
def edit(viewer: Viewer, form: FormData) -> Response:
    """Store a whole new policy, validated by the service (and audited there)."""
    values = {name: form_text(form, name).strip() for name in _values(Policy())}
    try:
        viewer.rt.policies.update(_document(values), viewer.actor)
    except InvalidInput as error:
        audit_failure(viewer, f"{error.field}: {error.message}")
        field = _form_field(error.field)
        return _form_page(viewer, values, {field: f"{_NAMES[field]}: {error.message}."})
    return _form_page(viewer, _values(viewer.rt.policies.current()), notice="Policy saved.")


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
    return "user_default_days"
