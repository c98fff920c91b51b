"""Audit of failed admin form posts, as the API audits its failed admin calls."""

from __future__ import annotations

from tokenward.web.forms import Viewer, attempted

__all__ = ["audit_failure"]


def audit_failure(viewer: Viewer, reason: str) -> None:
    """Record who tried which admin action, from where, and why it failed (state unchanged)."""
    action, subject = attempted(viewer.request)
    viewer.rt.audit.failed(viewer.actor, action, subject, reason[:256])
