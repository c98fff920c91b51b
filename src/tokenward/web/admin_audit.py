"""Audit of failed admin form posts, as the API audits its failed admin calls."""

from __future__ import annotations

from tokenward.http.access_log import redacted
from tokenward.web.forms import Viewer

__all__ = ["audit_failure"]


def audit_failure(viewer: Viewer, reason: str) -> None:
    """Record who tried which admin action, from where, and why it failed (state unchanged)."""
    request = viewer.request
    route = str(getattr(request.scope.get("route"), "path", ""))
    action = f"{request.method} {redacted(request.url.path)}"[:256]
    viewer.rt.audit.failed(viewer.actor, action, f"/ui{route}"[:256], reason[:256])
