"""An in-memory store with real transaction semantics, for unit tests and ``tokenward.testing``."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from tokenward.domain.errors import Conflict
from tokenward.domain.model import (
    Event,
    NodeRecord,
    SessionRecord,
    TokenRecord,
    TokenStatus,
    UserRecord,
    UserStatus,
)
from tokenward.store.base import Alarm, EventQuery, LastUse, Rotated, TokenQuery

__all__ = ["MemoryStore"]


@dataclasses.dataclass
class _State:
    users: dict[str, UserRecord] = dataclasses.field(default_factory=dict)
    tokens: dict[str, TokenRecord] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    sessions: dict[str, SessionRecord] = dataclasses.field(default_factory=dict)
    policy: dict[str, object] | None = None
    # Dead-token bookkeeping by token id: (count, last time, last address).
    dead_uses: dict[str, tuple[int, datetime, str | None]] = dataclasses.field(default_factory=dict)
    alarms: dict[tuple[str, Alarm], datetime] = dataclasses.field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            dict(self.users),
            dict(self.tokens),
            list(self.events),
            dict(self.sessions),
            self.policy,
            dict(self.dead_uses),
            dict(self.alarms),
        )


class _MemoryTransaction:
    def __init__(self, state: _State) -> None:
        self.state = state
        self.last_seq = 0

    def add_user(self, user: UserRecord) -> None:
        if self.user_by_name(user.username) is not None:
            raise Conflict(f"username {user.username!r} is taken")
        self.state.users[user.id] = user

    def user_by_id(self, user_id: str) -> UserRecord | None:
        return self.state.users.get(user_id)

    def user_by_name(self, username: str) -> UserRecord | None:
        return next((u for u in self.state.users.values() if u.username == username), None)

    def count_users(self) -> int:
        return len(self.state.users)

    def add_token(self, token: TokenRecord) -> None:
        if any(t.digest == token.digest for t in self.state.tokens.values()):
            raise Conflict("digest already stored")
        self.state.tokens[token.id] = token

    def token_by_id(self, token_id: str) -> TokenRecord | None:
        return self.state.tokens.get(token_id)

    def list_tokens(self, query: TokenQuery) -> list[TokenRecord]:
        mine = [
            t
            for t in self.state.tokens.values()
            if query.user_id in (None, t.user_id)
            and query.kind in (None, t.kind)
            and (query.status is None or t.status(query.now) is query.status)
            and (query.before is None or (t.created_at, t.id) < query.before)
        ]
        mine.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return mine[: query.limit]

    def revoke_token(self, token_id: str, at: datetime, by: str, reason: str) -> None:
        token = self.state.tokens[token_id]
        if token.revoked_at is None:
            self.state.tokens[token_id] = dataclasses.replace(
                token, revoked_at=at, revoked_by=by, revoke_reason=reason
            )

    def append_event(self, event: Event) -> int:
        seq = len(self.state.events) + 1
        self.state.events.append(dataclasses.replace(event, seq=seq))
        self.last_seq = seq
        return seq

    def mark_rotated(self, token_id: str, rotation: Rotated) -> bool:
        token = self.state.tokens.get(token_id)
        if token is None or token.revoked_at is not None or token.rotated_to is not None:
            return False
        self.state.tokens[token_id] = dataclasses.replace(
            token,
            rotated_to=rotation.rotated_to,
            rotated_at=rotation.at,
            grace_seconds=rotation.grace_seconds,
            grace_until=rotation.grace_until,
        )
        return True

    def start_grace(self, token_id: str, at: datetime, grace_until: datetime) -> bool:
        token = self.state.tokens.get(token_id)
        if token is None or token.rotated_to is None or token.grace_started_at is not None:
            return False
        self.state.tokens[token_id] = dataclasses.replace(
            token, grace_started_at=at, grace_until=grace_until
        )
        return True

    def add_dead_uses(self, token_id: str, count: int, at: datetime, ip: str | None) -> int:
        if token_id not in self.state.tokens:
            return 0
        before = self.state.dead_uses.get(token_id, (0, at, ip))[0]
        self.state.dead_uses[token_id] = (before + count, at, ip)
        return before + count

    def claim_alarm(self, token_id: str, alarm: Alarm, at: datetime, every: timedelta) -> bool:
        last = self.state.alarms.get((token_id, alarm))
        if token_id not in self.state.tokens or (last is not None and last > at - every):
            return False
        self.state.alarms[(token_id, alarm)] = at
        return True

    def set_user_status(self, user_id: str, status: UserStatus) -> None:
        user = self.state.users[user_id]
        self.state.users[user_id] = dataclasses.replace(user, status=status)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        user = self.state.users[user_id]
        self.state.users[user_id] = dataclasses.replace(user, password_hash=password_hash)

    def list_users(self, now: datetime) -> list[tuple[UserRecord, int]]:
        def active(user: UserRecord) -> int:
            return sum(
                t.user_id == user.id and t.status(now) is TokenStatus.ACTIVE
                for t in self.state.tokens.values()
            )

        users = sorted(self.state.users.values(), key=lambda u: u.username)
        return [(user, active(user)) for user in users]

    def count_active_admins(self) -> int:
        return sum(u.is_admin and u.status is UserStatus.ACTIVE for u in self.state.users.values())

    def add_session(self, session: SessionRecord) -> None:
        self.state.sessions[session.id] = session

    def live_sessions_of(self, user_id: str, now: datetime) -> list[SessionRecord]:
        return [s for s in self.state.sessions.values() if s.user_id == user_id and s.is_live(now)]

    def revoke_session(self, session_id: str, at: datetime) -> None:
        session = self.state.sessions[session_id]
        if session.revoked_at is None:
            self.state.sessions[session_id] = dataclasses.replace(session, revoked_at=at)

    def load_policy(self) -> dict[str, object] | None:
        return self.state.policy

    def save_policy(self, document: dict[str, object], at: datetime) -> None:
        self.state.policy = dict(document)

    def events(self, query: EventQuery) -> list[Event]:
        found = [e for e in self.state.events if _matches(query, e)]
        if query.newest_first:
            found.reverse()
        return found[: query.limit]

    def tokens_by_ids(self, ids: Collection[str]) -> list[TokenRecord]:
        return [self.state.tokens[i] for i in set(ids) if i in self.state.tokens]

    def sessions_by_ids(self, ids: Collection[str]) -> list[SessionRecord]:
        return [self.state.sessions[i] for i in set(ids) if i in self.state.sessions]

    def users_by_ids(self, ids: Collection[str]) -> list[UserRecord]:
        return [self.state.users[i] for i in set(ids) if i in self.state.users]


def _matches(query: EventQuery, event: Event) -> bool:
    seq = event.seq or 0
    return (
        seq > query.after
        and (query.before is None or seq < query.before)
        and query.type in (None, event.type)
        and query.subject in (None, event.subject)
        and query.actor in (None, event.actor)
        and (query.since is None or event.at >= query.since)
        and (query.until is None or event.at < query.until)
    )


class MemoryStore:
    """Everything in a dict; a transaction works on a copy that replaces the state on commit."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []
        self._nodes: dict[str, NodeRecord] = {}
        self.writes = 0

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            before = len(self._state.events)
            tx = _MemoryTransaction(self._state.copy())
            yield tx
            self._state = tx.state
            self.writes += 1
        if len(self._state.events) > before:
            for listener in self._listeners:
                listener(len(self._state.events))

    def report_node(self, node: NodeRecord) -> None:
        with self._lock:
            self.writes += 1
            self._nodes[node.id] = node

    def nodes_seen_since(self, moment: datetime) -> list[NodeRecord]:
        return sorted(
            (n for n in self._nodes.values() if n.heartbeat_at >= moment), key=lambda n: n.id
        )

    def max_seq(self) -> int:
        return len(self._state.events)

    def on_commit(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    def principal_by_digest(self, digest: str) -> tuple[TokenRecord, UserRecord] | None:
        state = self._state
        token = next((t for t in state.tokens.values() if t.digest == digest), None)
        return None if token is None else (token, state.users[token.user_id])

    def session_by_digest(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        state = self._state
        session = next((s for s in state.sessions.values() if s.digest == digest), None)
        return None if session is None else (session, state.users[session.user_id])

    def events_after(self, seq: int, limit: int = 100) -> list[Event]:
        return self._state.events[seq : seq + limit]

    def record_last_used(self, uses: Sequence[LastUse]) -> None:
        with self._lock:
            self.writes += 1
            found = self._state.tokens
            for use in uses:
                token = found.get(use.token_id)
                stored = None if token is None else token.last_used_at
                if token is not None and (stored is None or stored < use.at):
                    found[use.token_id] = dataclasses.replace(
                        token, last_used_at=use.at, last_used_from=use.ip
                    )

    def ping(self) -> None:
        return None

    def dispose(self) -> None:
        return None
