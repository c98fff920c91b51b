"""The audit log as a person reads it: who acted ("alice via token 'ci deploy'", "alice (web
session)", "command line") and one line saying what happened ("revoked token 'ci deploy' of
bob"), from the event and the tokens, sessions and users it names (read in batches, see
:meth:`~tokenward.service.audit.AuditService.parties`). The raw ids stay on the page too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenward.domain.model import Event
from tokenward.domain.tokens import TokenKind
from tokenward.service.audit import Parties

__all__ = ["EVENT_TYPES", "actor_name", "summary"]

# Every type the log holds, as the type filter offers them.
EVENT_TYPES = {
    "token.created": "Token created",
    "token.revoked": "Token revoked",
    "token.rotated": "Token rotated",
    "token.grace_started": "Rotation grace started",
    "token.expiring": "Token expiring soon",
    "token.expired": "Token expired",
    "token.leaked": "Token reported leaked",
    "token.reuse_detected": "Old secret reused",
    "token.dead_use": "Dead token still used",
    "leak.reported": "Leak report",
    "user.created": "User created",
    "user.deactivated": "User deactivated",
    "user.reactivated": "User reactivated",
    "session.created": "Logged in",
    "session.login_failed": "Login failed",
    "session.ended": "Logged out",
    "session.logout_all": "Logged out everywhere",
    "policy.updated": "Policy changed",
    "webhook.created": "Webhook added",
    "webhook.deleted": "Webhook removed",
    "admin.denied": "Admin action refused",
    "admin.failed": "Admin action failed",
}
_ACTORS = {
    "cli": "command line",
    "system:bootstrap": "tokenward (first start)",
    "system:notifier": "tokenward (reminders)",
    "tokenward": "tokenward",
    "rfc7009": "the token's holder (RFC 7009)",
    "anonymous": "someone not logged in",
}
_REASONS = {
    "owner deactivated": "account deactivated",
    "logout everywhere": "logged out everywhere",
    "leaked": "found leaked",
    "reuse_detected": "old secret reused after rotation",
    "rfc7009": "by its holder",
    "operator": "at the command line",
}
_POLICY_FIELDS = {
    "user_token.default_days": "user tokens' default",
    "user_token.max_days": "user tokens' maximum",
    "user_token.allow_no_expiry": "tokens that never expire",
    "admin_key.default_days": "admin keys' default",
    "admin_key.max_days": "admin keys' maximum",
    "reminder_days": "reminders",
    "revoke_family_on_reuse": "revoke on reuse",
}
_QUOTE_MAX = 60  # a label or leak source longer than this is cut in a summary


def actor_name(event: Event, parties: Parties) -> str:
    """Who did it, as a person or a thing; the raw id when nothing better is known."""
    actor = event.actor
    owner = parties.owner_of(actor)
    if actor in parties.tokens:
        return f"{_name(owner)} via {_credential(parties, actor)}"
    if actor in parties.sessions:
        return f"{_name(owner)} (web session)"
    if actor == "anonymous" and event.type == "session.created":
        return f"{_user(parties, event.details.get('user_id'))} (logging in)"
    return _ACTORS.get(actor, actor)


def summary(event: Event, parties: Parties) -> str:
    """One line saying what happened, by event type (the type and subject for others)."""
    write = _SUMMARIES.get(event.type)
    if write is None:
        return f"{event.type} on {_subject(event, parties)}"
    return write(_Facts(event, parties))


class _Facts:
    """What a summary is written from: the event's subject and details, named."""

    def __init__(self, event: Event, parties: Parties) -> None:
        self.event, self.parties, self.details = event, parties, event.details

    def get(self, key: str, default: Any = None) -> Any:
        return self.details.get(key, default)

    @property
    def token(self) -> str:
        """The subject token with its owner: "token 'ci deploy' of bob"."""
        return self.token_and_owner("of")

    def token_and_owner(self, joined_by: str) -> str:
        found = self.parties.tokens.get(self.event.subject)
        owner = _user(self.parties, self.get("user_id") or (found.user_id if found else None))
        token = _credential(self.parties, self.event.subject, self.get("label"))
        return f"{token} {joined_by} {owner}"

    @property
    def user(self) -> str:
        return _user(self.parties, self.event.subject, self.get("username"))


def _name(user: Any) -> str:
    return "an unknown user" if user is None else str(user.username)


def _user(parties: Parties, user_id: object, known: object = None) -> str:
    found = parties.users.get(user_id) if isinstance(user_id, str) else None
    if found is not None:
        return found.username
    return str(known or user_id or "an unknown user")


def _credential(parties: Parties, token_id: str, label: object = None) -> str:
    """ "token 'ci deploy'" or "admin key 'ops'"; the id when the token is unknown."""
    found = parties.tokens.get(token_id)
    if found is None and label is None:
        return f"token {token_id}"
    kind = "admin key" if found is not None and found.kind is TokenKind.ADMIN else "token"
    return f"{kind} {_quoted(found.label if found else str(label))}"


def _quoted(text: str) -> str:
    cut = text if len(text) <= _QUOTE_MAX else text[: _QUOTE_MAX - 1] + "…"
    return f"'{cut}'"


def _subject(event: Event, parties: Parties) -> str:
    subject = event.subject
    if subject in parties.tokens:
        return _Facts(event, parties).token
    if subject in parties.users:
        return parties.users[subject].username
    if subject in parties.sessions:
        return f"a web session of {_name(parties.owner_of(subject))}"
    return subject


def _day(moment: str, time: bool = False) -> str:
    """The day (and minute) of an RFC 3339 time, with hyphens that never break a line."""
    shown = moment[:16].replace("T", " ") if time else moment[:10]
    return shown.replace("-", "\u2011")


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int) or seconds <= 0:
        return "no grace"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            return f"a grace of {_plural(seconds // size, unit)}"
    return f"a grace of {_plural(seconds, 'second')}"


def _created(f: _Facts) -> str:
    scopes = ", ".join(f.get("scopes") or []) or "no scopes"
    expires = f.get("expires_at")
    until = f"expires {_day(expires)}" if isinstance(expires, str) else "never expires"
    replacing = "; replaces an older one" if f.get("rotated_from") else ""
    return f"created {f.token_and_owner('for')} ({scopes}; {until}{replacing})"


def _revoked(f: _Facts) -> str:
    reason = f.get("reason")
    why = "" if reason in (None, "owner", "admin") else f" ({_REASONS.get(reason, reason)})"
    return f"revoked {f.token}{why}"


def _policy(f: _Facts) -> str:
    before, after = _flat(f.get("before") or {}), _flat(f.get("after") or {})
    changes = [
        f"{_POLICY_FIELDS.get(key, key)} {_shown(before.get(key))} → {_shown(after.get(key))}"
        for key in after
        if before.get(key) != after.get(key)
    ]
    return "changed the policy: " + "; ".join(changes) if changes else "saved the policy unchanged"


def _flat(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "unset" if value is None else str(value)


def _login_failed(f: _Facts) -> str:
    if f.event.subject == "unknown user":
        return "failed to log in with an unknown username"
    return f"failed to log in as {f.user}"


def _tried(f: _Facts) -> str:
    verb = "was refused" if f.event.type == "admin.denied" else "tried"
    return f"{verb} {f.get('action', '?')}: {f.get('reason', 'no reason given')}"


_SUMMARIES: dict[str, Callable[[_Facts], str]] = {
    "token.created": _created,
    "token.revoked": _revoked,
    "token.rotated": lambda f: f"rotated {f.token}, with {_duration(f.get('grace_seconds'))}",
    "token.grace_started": lambda f: (
        f"started the grace of {f.token}: the old secret works until "
        + _day(str(f.get("grace_until", "?")), time=True)
    ),
    "token.expiring": lambda f: f"{f.token} expires in {_plural(f.get('days'), 'day')}",
    "token.expired": lambda f: f"{f.token} expired",
    "token.leaked": lambda f: f"{f.token} was reported leaked at {_quoted(str(f.get('source')))}",
    "token.reuse_detected": lambda f: (
        f"the old secret of {f.token} was used after its grace ({_plural(f.get('count'), 'time')})"
    ),
    "token.dead_use": lambda f: (
        f"{f.token} is still presented though {f.get('reason', 'dead')} "
        f"({_plural(f.get('count'), 'time')})"
    ),
    "leak.reported": lambda f: (
        f"reported {_plural(f.get('received'), 'string')} as leaked at "
        f"{_quoted(str(f.get('source')))}: {_plural(f.get('revoked'), 'token')} revoked"
    ),
    "user.created": lambda f: f"created user {f.user}{' (admin)' if f.get('is_admin') else ''}",
    "user.deactivated": lambda f: (
        f"deactivated {f.user}: {_plural(f.get('tokens_revoked'), 'token')} revoked, "
        f"{_plural(f.get('sessions_ended'), 'session')} ended"
    ),
    "user.reactivated": lambda f: f"reactivated {f.user}",
    "session.created": lambda f: "logged in to the web UI",
    "session.login_failed": _login_failed,
    "session.ended": lambda f: "logged out",
    "session.logout_all": lambda f: (
        f"logged {f.user} out everywhere: {_plural(f.get('sessions_ended'), 'session')} ended, "
        f"{_plural(f.get('tokens_revoked'), 'token')} revoked"
    ),
    "policy.updated": _policy,
    "webhook.created": lambda f: (
        f"added a webhook to {f.get('host')} for {', '.join(f.get('events') or []) or 'no events'}"
    ),
    "webhook.deleted": lambda f: f"removed the webhook to {f.get('host')}",
    "admin.denied": _tried,
    "admin.failed": _tried,
}
