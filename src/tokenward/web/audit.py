"""Admin: the audit log — ``/ui/admin/audit`` — oldest first, filtered by type, subject and
actor, paged by ``seq``."""

from __future__ import annotations

import json

from starlette.responses import Response

from tokenward.domain.model import Event
from tokenward.store.base import EventQuery
from tokenward.web.forms import Viewer, admin_page
from tokenward.web.pages import render

__all__ = ["PAGE_SIZE", "listing"]

PAGE_SIZE = 50
_FILTERS = ("type", "subject", "actor")
_MAX_FILTER = 64  # as the API's query parameters


@admin_page
def listing(viewer: Viewer) -> Response:
    filters = {name: (viewer.param(name) or "")[:_MAX_FILTER].strip() for name in _FILTERS}
    after = _after(viewer.param("after"))
    query = EventQuery(after, PAGE_SIZE, *(filters[name] or None for name in _FILTERS))
    events = viewer.rt.audit.query(query)
    next_after = events[-1].seq if len(events) == PAGE_SIZE else None
    return render(
        "admin/audit.html",
        viewer=viewer,
        section="audit",
        title="Audit log",
        events=[(event, _details(event)) for event in events],
        filters=filters,
        after=after,
        next_after=next_after,
    )


def _after(value: str | None) -> int:
    """The ``seq`` to start after: a non-negative whole number, else the start of the log."""
    if value is None or not value.isdigit() or len(value) > 18:
        return 0
    return int(value)


def _details(event: Event) -> str:
    """An event's details as compact JSON (escaped by the template like any text)."""
    return json.dumps(event.details, sort_keys=True, ensure_ascii=False, default=str)
