"""JSON shapes of the API (API.md), built from domain records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from tokenward.domain.model import Event, Principal, TokenRecord, UserRecord
from tokenward.domain.policy import Policy, policy_to_document
from tokenward.domain.tokens import TokenKind
from tokenward.propagation.receipts import Receipts
from tokenward.service import CreatedToken, Revocation
from tokenward.service.tokens import Rotation

__all__ = [
    "RENDERINGS",
    "Renderings",
    "created_view",
    "policy_view",
    "revocation_answer",
    "revocation_view",
    "rfc3339",
    "rotation_view",
    "self_view",
    "token_view",
]


_KIND_NAMES = {TokenKind.USER: "user_token", TokenKind.ADMIN: "admin_key"}


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def token_view(record: TokenRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": _KIND_NAMES[record.kind],
        "label": record.label,
        "hint": record.hint,
        "scopes": list(record.scopes),
        "status": record.status(now).value,
        "created_at": rfc3339(record.created_at),
        "expires_at": _time(record.expires_at),
        "revoked_at": _time(record.revoked_at),
        "last_used_at": _time(record.last_used_at),
        "last_used_from": record.last_used_from,
        "rotated_from": record.rotated_from,
        "rotated_to": record.rotated_to,
        "grace_until": _time(record.grace_until),
    }


def created_view(created: CreatedToken) -> dict[str, Any]:
    record = created.record
    return {
        "id": record.id,
        "token": created.secret,
        "label": record.label,
        "scopes": list(record.scopes),
        "created_at": rfc3339(record.created_at),
        "expires_at": _time(record.expires_at),
        "hint": record.hint,
    }


def rotation_view(rotation: Rotation) -> dict[str, Any]:
    """``POST /v1/tokens/{id}/rotate``: the successor in the create shape, plus the rotation.
    ``grace_until`` is the latest the old secret can work: the 7-day cap (or its expiry) until
    the successor's first use starts the grace, which ``GET /v1/tokens/{old id}`` then shows."""
    return {
        **created_view(rotation.created),
        "rotated_from": rotation.old.id,
        "grace_seconds": rotation.old.grace_seconds,
        "grace_until": _time(rotation.grace_until),
    }


def revocation_view(revocation: Revocation) -> dict[str, Any]:
    return {
        "id": revocation.record.id,
        "status": "revoked",
        "revoked_at": _time(revocation.record.revoked_at),
        "effective_by": rfc3339(revocation.effective_by),
    }


def revocation_answer(done: Revocation, receipts: Receipts, wait: bool) -> dict[str, Any]:
    """A revoke's answer; with ``?wait=true`` once the live nodes applied it."""
    return settled_view(revocation_view(done), receipts, done.seq, done.effective_by, wait)


def settled_view(
    view: dict[str, Any], receipts: Receipts, seq: int, effective_by: datetime, wait: bool
) -> dict[str, Any]:
    """With ``?wait=true``: wait until every live node has applied ``seq`` (or until
    ``effective_by``, whichever comes first), and say which nodes confirmed."""
    if not wait:
        return view
    settled = receipts.wait_for(seq, effective_by)
    return {**view, "confirmed_by": settled.confirmed, "pending": settled.pending}


def self_view(principal: Principal) -> dict[str, Any]:
    """What ``GET /v1/self`` says of the presented credential."""
    token, user = principal.token, principal.user
    owner = {"id": user.id, "username": user.username}
    if token is None:
        assert principal.session is not None  # noqa: S101 - no token means a session
        return {
            "id": principal.session.id,
            "kind": "session",
            "label": "web session",
            "scopes": [],
            "user": owner,
            "created_at": rfc3339(principal.session.created_at),
            "expires_at": rfc3339(principal.session.expires_at),
            "last_used_at": None,
        }
    return {
        "id": token.id,
        "kind": _KIND_NAMES[token.kind],
        "label": token.label,
        "scopes": list(token.scopes),
        "user": owner,
        "created_at": rfc3339(token.created_at),
        "expires_at": _time(token.expires_at),
        "last_used_at": _time(token.last_used_at),
    }


def policy_view(policy: Policy, max_staleness_ms: int, scopes: list[str]) -> dict[str, Any]:
    return {**policy_to_document(policy), "max_staleness_ms": max_staleness_ms, "scopes": scopes}


def user_brief(user: UserRecord) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


def kind_named(name: str | None) -> TokenKind | None:
    """The kind an API name stands for (``user_token``, ``admin_key``)."""
    return next((kind for kind, named in _KIND_NAMES.items() if named == name), None)


def event_view(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": rfc3339(event.at),
        "type": event.type,
        "actor": event.actor,
        "subject": event.subject,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "outcome": event.outcome,
        "details": event.details,
    }


class Renderings:
    """What the hot path derives from a principal, computed once per principal object.

    A cached principal is the same object on every hit, so its ``/v1/self`` body and expiry
    header need not be formatted again. Entries hold the principal itself, so an ``id`` is
    never reused while its entry lives; the memo is bounded and simply starts over when full.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._memo: dict[int, tuple[Principal, tuple[bytes, bytes], bytes]] = {}
        self._used: dict[int, tuple[Principal, datetime, bytes]] = {}

    def expires_header(self, principal: Principal) -> tuple[bytes, bytes]:
        """The ``Tokenward-Token-Expires`` header (promise P4), built once per principal."""
        return self._of(principal)[1]

    def self_body(self, principal: Principal, last_used: datetime | None = None) -> bytes:
        """The ``/v1/self`` body; ``last_used`` (what this node wrote since the principal was
        read from the store) replaces an older ``last_used_at``."""
        token = principal.token
        if last_used is None or token is None or (token.last_used_at or last_used) > last_used:
            return self._of(principal)[2]
        entry = self._used.get(id(principal))
        if entry is None or entry[0] is not principal or entry[1] != last_used:
            view = {**self_view(principal), "last_used_at": rfc3339(last_used)}
            entry = (principal, last_used, _compact(orjson.dumps(view)))
            if len(self._used) >= self.capacity:
                self._used.clear()
            self._used[id(principal)] = entry
        return entry[2]

    def _of(self, principal: Principal) -> tuple[Principal, tuple[bytes, bytes], bytes]:
        entry = self._memo.get(id(principal))
        if entry is None or entry[0] is not principal:
            expires = principal.expires_at
            value = b"never" if expires is None else rfc3339(expires).encode()
            header = (b"tokenward-token-expires", value)
            entry = (principal, header, _compact(orjson.dumps(self_view(principal))))
            if len(self._memo) >= self.capacity:
                self._memo.clear()
            self._memo[id(principal)] = entry
        return entry


def _compact(body: bytes) -> bytes:
    """A copy of ``body`` of its own size, for a body kept in a memo: orjson's output keeps the
    whole buffer it was written in (about 4 KB, however short the JSON), which, kept for every
    cached token, was most of the memory a cached token cost."""
    return bytes(memoryview(body))


RENDERINGS = Renderings()
