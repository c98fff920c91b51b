"""The verified-token cache, guarded by freshness.

An entry is served only while the node's last confirmation ("I have applied every event up to
now") is younger than ``max_staleness``. Applying an event evicts what it invalidates. A fill
carries the generation read before its store lookup: if any event was applied in between, the
fill is dropped, so a verify that read a token just before its revocation cannot put it back
after the revocation was applied (no resurrection).

Entries are kept packed (:meth:`GuardedCache._pack`): the node's cache holds each verified
token as a tuple of plain values, which the cycle collector stops tracking, and keeps the
objects built from it only for the most recently used (a bounded hot set). A million objects
the collector tracks cost it most of a second on each full pass; plain tuples cost it nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from tokenward.domain.model import (
    Event,
    Principal,
    TokenRecord,
    UserRecord,
    UserStatus,
    invalidates_user,
)
from tokenward.domain.tokens import TokenKind

__all__ = ["FreshCache", "GuardedCache"]

V = TypeVar("V")
_SCOPE_SETS = 1_000  # distinct scope sets shared; past that, each entry keeps its own
# Principals kept built for the most recently used tokens: a hit on one returns the same object
# each time, so what the hot path memoises for it (http.views.Renderings, as big) still holds.
_HOT = 10_000


class GuardedCache(Generic[V]):
    """The guarded cache over any value; ``owner_of`` names the user of a kept value, so that
    a user event evicts all of that user's entries. Standard library only: the
    resource-server SDK uses it too.

    Values are kept as they are; a subclass may keep them packed (:meth:`_pack`), and then
    ``owner_of`` reads the packed form, and the ``hot`` most recently used stay unpacked."""

    def __init__(
        self,
        max_staleness: float,
        capacity: int,
        monotonic: Callable[[], float],
        owner_of: Callable[[Any], str],
        hot: int = 0,
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
        self._entries: OrderedDict[str, Any] = OrderedDict()  # digest -> packed value
        self._hot: OrderedDict[str, V] = OrderedDict()  # digest -> value, most recent last
        self._hot_capacity = hot
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
            value = self._hot.get(digest)
            if value is None:
                packed = self._entries.get(digest)
                if packed is None:
                    self.misses += count_miss
                    return None
                value = self._warm(digest, self._unpack(digest, packed))
            else:
                self._hot.move_to_end(digest)
            self._entries.move_to_end(digest)
            self.hits += 1
            return value

    @property
    def generation(self) -> int:
        """Read before a store lookup; hand it back to :meth:`fill`."""
        return self._generation

    def fill(self, digest: str, principal: V, generation: int) -> V | None:
        """Cache a principal read from the store, unless an event was applied since
        ``generation`` was read (it may have invalidated what the read saw). Returns
        ``principal``, which hits return while it stays among the most recently used, or None
        if refused."""
        with self._lock:
            if generation != self._generation or not self._fresh():
                return None
            packed = self._pack(principal)
            self._entries[digest] = packed
            self._entries.move_to_end(digest)
            self._index(self.owner_of(packed), digest)
            while len(self._entries) > self.capacity:
                self._forget(next(iter(self._entries)))
            return self._warm(digest, principal)

    # -- how values are kept ---------------------------------------------------------------

    def _pack(self, value: V) -> Any:
        """What the cache keeps for ``value``: here the value itself."""
        return value

    def _unpack(self, digest: str, packed: Any) -> V:
        """The value ``packed`` (what :meth:`_pack` made of it) stands for."""
        return packed  # type: ignore[no-any-return]

    def _warm(self, digest: str, value: V) -> V:
        """Keep ``value`` built for ``digest`` among the most recently used (in place of
        what an older read built); returns it."""
        if self._hot_capacity:
            self._hot[digest] = value
            self._hot.move_to_end(digest)
            if len(self._hot) > self._hot_capacity:
                self._hot.popitem(last=False)
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
            self._hot.clear()
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
        packed = self._entries.pop(digest, None)
        if packed is None:
            return
        self._hot.pop(digest, None)
        owner = self.owner_of(packed)
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
    """The node's cache of verified tokens, each kept as a tuple of plain values: the owner's
    values, then the token's (``_CORE``), then, only if any is set, a tuple of the rest (its
    revocation and rotation). Its digest is the key and its owner's id the owner's, so neither
    is kept twice. Enums are kept as their values, times as microseconds and text past ASCII
    as UTF-8: the tuple holds nothing the cycle collector tracks, and less memory."""

    def __init__(
        self,
        max_staleness: float,
        capacity: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
        hot: int = _HOT,
    ) -> None:
        super().__init__(max_staleness, capacity, monotonic, _packed_owner, hot)
        self._scope_sets: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _pack(self, value: Principal) -> tuple[Any, ...]:
        """Each store read makes new objects: an owner's record, read again for each of its
        tokens, and the same few scope sets. Packed entries share one of each instead (memory
        per cached token; the values are equal, so nothing a caller sees changes)."""
        token = value.token
        if token is None or token.user_id != value.user.id:
            raise ValueError("only a token's principal, with the token's owner, is cached")
        owner = tuple(_plain(getattr(value.user, name)) for name in _USER_FIELDS)
        one = self._one_owned(value.user.id)
        known = None if one is None else self._entries.get(one)
        if known is not None and known[0] == owner:
            owner = known[0]
        core = [keep(getattr(token, name)) for name, keep, _ in _CORE]
        core[_SCOPES] = self._scopes(token.scopes)
        rest = tuple(getattr(token, name) for name in _REST)
        return (owner, *core, rest) if any(field is not None for field in rest) else (owner, *core)

    def _unpack(self, digest: str, packed: Any) -> Principal:
        owner, *core = packed
        rest = dict(zip(_REST, core.pop(), strict=True)) if len(core) > len(_CORE) else {}
        fields = {name: read(kept) for (name, _, read), kept in zip(_CORE, core, strict=True)}
        values = dict(zip(_USER_FIELDS, owner, strict=True))
        values["status"] = UserStatus(values["status"])
        user = UserRecord(**values)
        token = TokenRecord(user_id=user.id, digest=digest, **fields, **rest)
        return Principal(user, token=token)

    def _scopes(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        if len(self._scope_sets) >= _SCOPE_SETS:
            return scopes
        return self._scope_sets.setdefault(scopes, scopes)


def _packed_owner(packed: tuple[Any, ...]) -> str:
    return str(packed[0][0])


def _same(value: Any) -> Any:
    return value


def _plain(value: Any) -> Any:
    """An enum as its value (an enum member is an object the cycle collector tracks)."""
    return value.value if isinstance(value, enum.Enum) else value


def _interned(text: str | None) -> str | None:
    """One copy of text that many entries hold (who made a token, where it was last used)."""
    return None if text is None else sys.intern(text)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _compact_time(moment: datetime | None) -> datetime | int | None:
    """A UTC time as microseconds since the epoch: an int of 32 bytes, not a datetime of 48
    (another zone's time is kept as it is, its zone with it)."""
    if moment is None or moment.tzinfo is not UTC:
        return moment
    return (moment - _EPOCH) // _MICROSECOND


def _time(kept: datetime | int | None) -> datetime | None:
    return _EPOCH + kept * _MICROSECOND if isinstance(kept, int) else kept


def _compact_text(text: str) -> str | bytes:
    """Text with a character past ASCII takes 2 or 4 bytes for each of its characters (a
    hint's ``…`` doubles it): such text is kept as UTF-8 bytes instead."""
    return text if text.isascii() else text.encode()


def _text(kept: str | bytes) -> str:
    return kept.decode() if isinstance(kept, bytes) else kept


_USER_FIELDS = tuple(field.name for field in dataclasses.fields(UserRecord))
# The token's fields a packed entry keeps, in its order: each with how it is kept and how it is
# read back. Scopes are shared by each cache (FreshCache._scopes).
_CORE: tuple[tuple[str, Callable[[Any], Any], Callable[[Any], Any]], ...] = (
    ("id", _same, _same),
    ("kind", _plain, TokenKind),
    ("created_by", _interned, _same),
    ("label", _compact_text, _text),
    ("scopes", _same, _same),
    ("created_at", _compact_time, _time),
    ("expires_at", _compact_time, _time),
    ("hint", _compact_text, _text),
    ("last_used_at", _compact_time, _time),
    ("last_used_from", _interned, _same),
)
_CORE_NAMES = tuple(name for name, _, _ in _CORE)
_SCOPES = _CORE_NAMES.index("scopes")
_REST = tuple(  # kept as they are, and only when one is set
    field.name
    for field in dataclasses.fields(TokenRecord)
    if field.name not in {*_CORE_NAMES, "user_id", "digest"}
)
