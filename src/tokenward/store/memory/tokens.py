"""Tokens in memory."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime, timedelta

from tokenward.domain.errors import Conflict
from tokenward.domain.model import TokenRecord
from tokenward.store.memory.state import State
from tokenward.store.records import Alarm, Rotated, TokenQuery, check_new_token

__all__ = ["MemoryTokens"]


class MemoryTokens:
    """A :class:`~tokenward.store.repositories.TokenRepository` over a transaction's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, token: TokenRecord) -> None:
        check_new_token(token)
        if any(t.digest == token.digest for t in self.state.tokens.values()):
            raise Conflict("digest already stored")
        self.state.tokens[token.id] = token

    def by_id(self, token_id: str) -> TokenRecord | None:
        return self.state.tokens.get(token_id)

    def by_ids(self, ids: Collection[str]) -> list[TokenRecord]:
        return [self.state.tokens[i] for i in set(ids) if i in self.state.tokens]

    def list(self, query: TokenQuery) -> list[TokenRecord]:
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

    def revoke(self, token_id: str, at: datetime, by: str, reason: str) -> TokenRecord | None:
        token = self.state.tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return None
        revoked = dataclasses.replace(token, revoked_at=at, revoked_by=by, revoke_reason=reason)
        self.state.tokens[token_id] = revoked
        return revoked

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
