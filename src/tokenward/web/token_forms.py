"""The token forms' fields: what a person picked, turned into the service's request.

Only the shape of the input is checked here (a number, a date); every rule about lifetimes and
scopes is the service's, and its errors are shown next to the field they concern.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time

from starlette.datastructures import FormData

from tokenward.domain.errors import InvalidInput
from tokenward.domain.policy import LifetimeRule
from tokenward.service import NewToken
from tokenward.web.forms import form_text

__all__ = ["PRESETS", "TokenForm", "field_error", "presets", "read_token_form"]

PRESETS = (7, 30, 90, 365)
# A date field sends YYYY-MM-DD whatever it shows (mm/dd/yyyy, dd.mm.yyyy…): name no format.
_NO_DAY = "choose a day in the date field"
# The service names fields as the API does; the form has fewer, friendlier ones.
_FIELD_OF = {
    "expires_in_days": "lifetime",
    "never_expires": "lifetime",
    "expires_at": "expires_on",
}
_NAMES = {
    "label": "Label",
    "lifetime": "Lifetime",
    "expires_on": "Expiry date",
    "scopes": "Scopes",
}


@dataclasses.dataclass(frozen=True)
class TokenForm:
    """What the create form holds, kept as typed so that a refused form shows it again."""

    label: str = ""
    lifetime: str = ""  # a number of days, "date", "never", or "" for the policy default
    expires_on: str = ""  # YYYY-MM-DD (what a date field sends), when lifetime is "date"
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_values(cls, values: dict[str, object]) -> TokenForm:
        """The form again from its fields as a flash carried them (see tokenward.web.flash)."""
        scopes = values.get("scopes")
        return cls(
            label=str(values.get("label", "")),
            lifetime=str(values.get("lifetime", "")),
            expires_on=str(values.get("expires_on", "")),
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
        )

    def request(self) -> NewToken:
        """The service's request, or :class:`InvalidInput` naming this form's field."""
        if self.lifetime == "never":
            return NewToken(self.label, self.scopes, never_expires=True)
        if self.lifetime == "date":
            return NewToken(self.label, self.scopes, expires_at=_day_start(self.expires_on))
        return NewToken(self.label, self.scopes, expires_in_days=_days(self.lifetime))


def read_token_form(form: FormData) -> TokenForm:
    return TokenForm(
        label=form_text(form, "label"),
        lifetime=form_text(form, "lifetime"),
        expires_on=form_text(form, "expires_on").strip(),
        scopes=tuple(s for s in form.getlist("scopes") if isinstance(s, str)),
    )


def presets(rule: LifetimeRule) -> list[int]:
    """The preset lifetimes the policy allows, its default among them."""
    return sorted({days for days in PRESETS if days <= rule.max_days} | {rule.default_days})


def field_error(error: InvalidInput) -> tuple[str, str]:
    """The form field an error of the service concerns, and the sentence to show there."""
    field = _FIELD_OF.get(error.field, error.field)
    return field, f"{_NAMES.get(field, field.capitalize())}: {error.message}."


def _days(value: str) -> int | None:
    if not value:
        return None  # the policy's default
    if not value.isdigit() or len(value) > 4:
        raise InvalidInput("lifetime", "must be one of the lifetimes offered")
    return int(value)


def _day_start(value: str) -> datetime:
    """00:00 UTC of a ``YYYY-MM-DD`` date."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("expires_on", _NO_DAY) from None
    if len(value) != 10:  # fromisoformat also takes 20260105; a person typing that erred
        raise InvalidInput("expires_on", _NO_DAY)
    return datetime.combine(day, time(0, 0), tzinfo=UTC)
