"""Users and web sessions in memory."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime

from tokenward.domain.errors import Conflict
from tokenward.domain.model import SessionRecord, TokenStatus, UserRecord, UserStatus
from tokenward.store.memory.state import State

__all__ = ["MemorySessions", "MemoryUsers"]


class MemoryUsers:
    """A :class:`~tokenward.store.repositories.UserRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, user: UserRecord) -> None:
        if self.by_name(user.username) is not None:
            raise Conflict(f"username {user.username!r} is taken")
        self.state.users[user.id] = user

    def by_id(self, user_id: str) -> UserRecord | None:
        return self.state.users.get(user_id)

    def by_name(self, username: str) -> UserRecord | None:
        return next((u for u in self.state.users.values() if u.username == username), None)

    def by_ids(self, ids: Collection[str]) -> list[UserRecord]:
        return [self.state.users[i] for i in set(ids) if i in self.state.users]

    def count(self) -> int:
        return len(self.state.users)

    def count_active_admins(self) -> int:
        return sum(u.is_admin and u.status is UserStatus.ACTIVE for u in self.state.users.values())

    def set_status(self, user_id: str, status: UserStatus) -> bool:
        user = self.state.users.get(user_id)
        if user is None or user.status is status:
            return False
        self.state.users[user_id] = dataclasses.replace(user, status=status)
        return True

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        user = self.state.users[user_id]
        self.state.users[user_id] = dataclasses.replace(user, password_hash=password_hash)

    def list(self, now: datetime) -> list[tuple[UserRecord, int]]:
        def active(user: UserRecord) -> int:
            return sum(
                t.user_id == user.id and t.status(now) is TokenStatus.ACTIVE
                for t in self.state.tokens.values()
            )

        users = sorted(self.state.users.values(), key=lambda u: u.username)
        return [(user, active(user)) for user in users]

    def emails_of(self, user_ids: Collection[str]) -> dict[str, str]:
        found = [self.state.users.get(user_id) for user_id in user_ids]
        return {u.id: u.email for u in found if u is not None and u.email is not None}


class MemorySessions:
    """A :class:`~tokenward.store.repositories.SessionRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, session: SessionRecord) -> None:
        self.state.sessions[session.id] = session

    def by_ids(self, ids: Collection[str]) -> list[SessionRecord]:
        return [self.state.sessions[i] for i in set(ids) if i in self.state.sessions]

    def live_of(self, user_id: str, now: datetime) -> list[SessionRecord]:
        return [s for s in self.state.sessions.values() if s.user_id == user_id and s.is_live(now)]

    def end(self, session_id: str, at: datetime) -> bool:
        session = self.state.sessions.get(session_id)
        if session is None or session.revoked_at is not None:
            return False
        self.state.sessions[session_id] = dataclasses.replace(session, revoked_at=at)
        return True
