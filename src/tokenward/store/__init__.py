"""Persistence behind small protocols: an in-memory store for unit tests, SQL for real use."""

from tokenward.store.base import Store, StoreTransaction, TokenQuery
from tokenward.store.memory import MemoryStore
from tokenward.store.sql import SqlStore

__all__ = ["MemoryStore", "SqlStore", "Store", "StoreTransaction", "TokenQuery"]
