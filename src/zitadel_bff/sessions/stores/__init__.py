"""Session stores: one small async interface, one backend per module."""

from __future__ import annotations

from .base import Entry, Store
from .instrumented import InstrumentedStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["Entry", "InstrumentedStore", "MemoryStore", "SQLiteStore", "Store", "store_from_url"]

REDIS_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "redis+cluster://")


def store_from_url(url: str) -> Store:
    """Build the store SESSION_STORE names (the caller closes it)."""
    if url.startswith("memory://"):
        return MemoryStore()
    if url.startswith("sqlite://"):
        return SQLiteStore.from_url(url)
    if url.startswith(REDIS_SCHEMES):
        from .redis import RedisStore  # optional dependency: imported only when used

        return RedisStore.from_url(url)
    raise ValueError(f"unsupported SESSION_STORE {url.split('://', 1)[0]!r}")
