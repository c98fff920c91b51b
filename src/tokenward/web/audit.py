"""Admin: the audit log — ``/ui/admin/audit`` — newest first, paged by ``seq`` both ways
(``?before=`` older, ``?after=`` newer), filtered by type, actor, subject and a range of
days; each event named for people (see :mod:`tokenward.web.audit_text`)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, time, timedelta

from starlette.responses import Response

from tokenward.domain.errors import InvalidInput, NotFound
from tokenward.domain.model import Event
from tokenward.domain.tokens import is_id
from tokenward.service.audit import AuditService
from tokenward.store.base import EventQuery
from tokenward.web.audit_text import EVENT_TYPES, actor_name, summary
from tokenward.web.forms import Viewer, admin_page
from tokenward.web.pages import render

__all__ = ["PAGE_SIZE", "AuditPage", "Row", "listing"]

PAGE_SIZE = 50
_TEXT_FILTERS = ("type", "actor", "subject")
_DAY_FILTERS = ("from", "to")
_FILTERS = _TEXT_FILTERS + _DAY_FILTERS
_ID_PREFIXES = ("usr", "tok", "ses", "whk")
_MAX_FILTER = 64  # as the API's query parameters


@dataclasses.dataclass(frozen=True)
class Row:
    """One event as the page shows it."""

    event: Event
    actor: str
    summary: str
    details: str  # the full JSON, indented, behind a disclosure


@dataclasses.dataclass(frozen=True)
class AuditPage:
    """Events newest first, and the bounds of the pages around it (``None``: no such page)."""

    events: list[Event]
    newer_after: int | None
    older_before: int | None


@admin_page
def listing(viewer: Viewer) -> Response:
    """One page of the log, newest first, with the filters as given (a bad day is named)."""
    filters = {name: (viewer.param(name) or "")[:_MAX_FILTER].strip() for name in _FILTERS}
    errors: dict[str, str] = {}
    base = _query(viewer, filters, errors)
    after, before = _seq(viewer.param("after")), _seq(viewer.param("before"))
    found = page_of(viewer.rt.audit, base, after, None if after else before)
    parties = viewer.rt.audit.parties(found.events)
    return render(
        "admin/audit.html",
        viewer=viewer,
        section="audit",
        title="Audit log",
        rows=[Row(e, actor_name(e, parties), summary(e, parties), _json(e)) for e in found.events],
        page=found,
        paged=bool(after or before),
        filters=filters,
        errors=errors,
        types=_types(filters["type"]),
    )


def page_of(
    audit: AuditService, base: EventQuery, after: int | None, before: int | None
) -> AuditPage:
    """The page of ``base``'s events just after seq ``after`` (a newer page) or just before
    ``before`` (an older one; the newest events when neither is given), newest first."""
    if after is not None:
        found = audit.query(dataclasses.replace(base, after=after, limit=PAGE_SIZE + 1))
        events = found[:PAGE_SIZE][::-1]
        newer = len(found) > PAGE_SIZE
        oldest = events[-1].seq if events else after + 1
        older = _exists(audit, dataclasses.replace(base, before=oldest))
    else:
        query = dataclasses.replace(base, before=before, newest_first=True, limit=PAGE_SIZE + 1)
        found = audit.query(query)
        events = found[:PAGE_SIZE]
        older = len(found) > PAGE_SIZE
        newest = (events[0].seq or 0) if events else 0
        newer = before is not None and _exists(audit, dataclasses.replace(base, after=newest))
    return AuditPage(
        events,
        (events[0].seq or 0) if newer and events else None,
        (events[-1].seq or 0) if older and events else None,
    )


def _exists(audit: AuditService, query: EventQuery) -> bool:
    return bool(audit.query(dataclasses.replace(query, limit=1)))


def _query(viewer: Viewer, filters: dict[str, str], errors: dict[str, str]) -> EventQuery:
    """The filters as a query; a day that is not one is named in ``errors`` and left out."""
    since, until = (_day(filters, name, errors) for name in _DAY_FILTERS)
    if since and until and since > until:
        errors["to"] = "To: must not be before From."
        until = None
    return EventQuery(
        type=filters["type"] or None,
        actor=filters["actor"] or None,
        subject=_subject(viewer, filters["subject"]),
        since=since,
        until=until + timedelta(days=1) if until else None,
    )


def _subject(viewer: Viewer, wanted: str) -> str | None:
    """A subject id as typed, or the id of the user so named (``bob`` for ``usr_…``)."""
    if not wanted or any(is_id(wanted, prefix) for prefix in _ID_PREFIXES):
        return wanted or None
    try:
        return viewer.rt.accounts.by_name(wanted).id
    except (NotFound, InvalidInput):
        return wanted


def _day(filters: dict[str, str], name: str, errors: dict[str, str]) -> datetime | None:
    """00:00 UTC of the day in ``filters[name]`` (what a date field sends: YYYY-MM-DD)."""
    if not filters[name]:
        return None
    try:
        return datetime.combine(date.fromisoformat(filters[name]), time(0), tzinfo=UTC)
    except ValueError:
        errors[name] = f"{name.capitalize()}: choose a day in the date field."
        return None


def _seq(value: str | None) -> int | None:
    """A page bound: a positive whole number, else none (the newest events)."""
    if value is None or not value.isdigit() or len(value) > 18 or int(value) < 1:
        return None
    return int(value)


def _types(chosen: str) -> list[tuple[str, str]]:
    """The type filter's options; a type typed into the URL is kept as one."""
    known = dict(EVENT_TYPES)
    if chosen and chosen not in known:
        known[chosen] = chosen
    return sorted(known.items(), key=lambda item: item[1])


def _json(event: Event) -> str:
    """An event's details as indented JSON (escaped by the template like any text)."""
    return json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False, default=str)
