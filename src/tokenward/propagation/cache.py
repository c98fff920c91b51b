"""The verified-token cache, guarded by freshness.

An entry is served only while the node's last confirmation ("I have applied every event up to
now") is younger than ``max_staleness``. Applying an event evicts what it invalidates. A fill
carries the generation read before its store lookup: if any event was applied in between, the
fill is dropped, so a verify that read a token just before its revocation cannot put it back
after the revocation was applied (no resurrection).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from tokenward.domain.model import Event, Principal, invalidates_user

__all__ = ["FreshCache", "GuardedCache"]

V = TypeVar("V")
_SCOPE_SETS = 1_000  # distinct scope sets shared; past that, each entry keeps its own


class GuardedCache(Generic[V]):
    """The guarded cache over any value; ``owner_of`` names the user a value belongs to, so
    that a user event evicts all of that user's entries. Standard library only: the
    resource-server SDK uses it too."""

    def __init__(
        self,
        max_staleness: float,
        capacity: int,
        monotonic: Callable[[], float],
        owner_of: Callable[[V], str],
    ) -> None:
        self.owner_of = owner_of
        self.max_staleness = max_staleness
        self.capacity = capacity
        self.monotonic = monotonic
        self.applied_seq = 0
        self.confirmed_at: float | None = None  # monotonic time of the last confirmation
        self.hits = 0
        self.misses = 0
        self._generation = 0
        self._entries: OrderedDict[str, V] = OrderedDict()
        # Each user's cached digests: one string while there is one (most users hold a token
        # or two, and an empty set alone costs 216 bytes), a set from the second on.
        self._by_user: dict[str, str | set[str]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    # -- the verify path -------------------------------------------------------------------

    def get(self, digest: str, *, count_miss: bool = True) -> V | None:
        """The cached principal for ``digest`` if the node is fresh; expiry is the caller's.
        ``count_miss=False`` for a first try that a counted lookup follows on a miss."""
        with self._lock:
            if not self._fresh():
                self.misses += count_miss
                return None
            principal = self._entries.get(digest)
            if principal is None:
                self.misses += count_miss
                return None
            self._entries.move_to_end(digest)
            self.hits += 1
            return principal

    @property
    def generation(self) -> int:
        """Read before a store lookup; hand it back to :meth:`fill`."""
        return self._generation

    def fill(self, digest: str, principal: V, generation: int) -> V | None:
        """Cache a principal read from the store, unless an event was applied since
        ``generation`` was read (it may have invalidated what the read saw). Returns the
        value now cached (equal to ``principal``, sharing what other entries hold), or None
        if refused."""
        with self._lock:
            if generation != self._generation or not self._fresh():
                return None
            principal = self._shared(principal)
            self._entries[digest] = principal
            self._entries.move_to_end(digest)
            self._index(self.owner_of(principal), digest)
            while len(self._entries) > self.capacity:
                self._forget(next(iter(self._entries)))
            return principal

    def _shared(self, value: V) -> V:
        """``value``, or an equal one that shares what other entries already hold (memory)."""
        return value

    # -- the follower's side ---------------------------------------------------------------

    def apply(self, events: Iterable[Event], read_started: float | None) -> None:
        """Apply events read from the log by a read that started at ``read_started``
        (monotonic): evict what they invalidate, then confirm freshness as of that start
        (``None``: evict only, confirm nothing). Listeners hear of a new ``applied_seq``."""
        with self._lock:
            before = self.applied_seq
            for event in events:
                if self._evict_for(event):
                    self._generation += 1
                self.applied_seq = max(self.applied_seq, event.seq or 0)
            if read_started is not None:
                # Reads may finish out of order (the follower's and a committer's): keep the
                # newest confirmation.
                self.confirmed_at = max(self.confirmed_at or read_started, read_started)
            advanced = self.applied_seq > before
        if advanced:
            for listener in tuple(self._listeners):
                listener()

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from whichever thread applied them) when new events were
        applied; it must return at once."""
        self._listeners.append(listener)

    def unlisten(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def refuse_pending_fills(self) -> None:
        """Make every fill whose read began before now fail: for a feed that (re)starts and
        cannot vouch for what happened before it."""
        with self._lock:
            self._generation += 1

    def skip_to(self, seq: int) -> None:
        """Follow from ``seq`` on without applying the events up to it (a node starting at the
        end of the log). Those events may invalidate anything: forget every entry, and refuse
        fills whose store read began before the skip (no resurrection)."""
        with self._lock:
            if seq <= self.applied_seq:
                return
            self.applied_seq = seq
            self._generation += 1
            self._entries.clear()
            self._by_user.clear()

    def lag(self) -> float | None:
        """Seconds since the last confirmation, or None if there never was one."""
        confirmed = self.confirmed_at
        return None if confirmed is None else self.monotonic() - confirmed

    def is_fresh(self) -> bool:
        with self._lock:
            return self._fresh()

    def __len__(self) -> int:
        return len(self._entries)

    def _fresh(self) -> bool:
        confirmed = self.confirmed_at
        return confirmed is not None and self.monotonic() - confirmed < self.max_staleness

    def _evict_for(self, event: Event) -> bool:
        """Evict what ``event`` invalidates; True if it could invalidate anything at all
        (then fills read before it are refused, even of entries not cached yet)."""
        digests = event.details.get("digests", ())
        for digest in digests:
            self._forget(digest)
        if invalidates_user(event.type):
            for digest in self._owned(event.subject):
                self._forget(digest)
            return True
        return bool(digests)

    def _forget(self, digest: str) -> None:
        value = self._entries.pop(digest, None)
        if value is None:
            return
        owner = self.owner_of(value)
        held = self._by_user.get(owner)
        if held == digest:
            del self._by_user[owner]
        elif isinstance(held, set):
            held.discard(digest)
            if len(held) == 1:
                self._by_user[owner] = held.pop()

    def _index(self, owner: str, digest: str) -> None:
        held = self._by_user.get(owner)
        if held is None:
            self._by_user[owner] = digest
        elif isinstance(held, set):
            held.add(digest)
        elif held != digest:
            self._by_user[owner] = {held, digest}

    def _one_owned(self, owner: str) -> str | None:
        """Any one digest cached for ``owner``, or None (no copy of the rest)."""
        held = self._by_user.get(owner)
        return held if held is None or isinstance(held, str) else next(iter(held))

    def _owned(self, owner: str) -> tuple[str, ...]:
        """The digests cached for ``owner`` (a copy: forgetting them changes the index)."""
        held = self._by_user.get(owner, ())
        return (held,) if isinstance(held, str) else tuple(held)


class FreshCache(GuardedCache[Principal]):
    """The node's cache of verified tokens."""

    def __init__(
        self,
        max_staleness: float,
        capacity: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_staleness, capacity, monotonic, _owner)
        self._scope_sets: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _shared(self, value: Principal) -> Principal:
        """Each store read makes new objects: an owner's record, read again for each of its
        tokens, and the same few scope sets. Cached entries share one of each instead
        (memory per cached token; the values are equal, so nothing a caller sees changes)."""
        one = self._one_owned(value.user.id)
        known = None if one is None else self._entries.get(one)
        user = known.user if known is not None and known.user == value.user else value.user
        token = value.token
        if token is None:
            return dataclasses.replace(value, user=user)
        shared = dataclasses.replace(
            token,
            user_id=user.id,
            created_by=sys.intern(token.created_by),
            scopes=self._scopes(token.scopes),
            last_used_from=None
            if token.last_used_from is None
            else sys.intern(token.last_used_from),
        )
        return dataclasses.replace(value, user=user, token=shared)

    def _scopes(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        if len(self._scope_sets) >= _SCOPE_SETS:
            return scopes
        return self._scope_sets.setdefault(scopes, scopes)


def _owner(principal: Principal) -> str:
    return principal.user.id
