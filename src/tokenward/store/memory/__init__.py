"""The in-memory store: one module per aggregate, a transaction over a copy of the state."""

from tokenward.store.memory.store import MemoryStore, MemoryTransaction

__all__ = ["MemoryStore", "MemoryTransaction"]
