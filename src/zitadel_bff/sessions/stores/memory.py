"""An in-process store for tests and single-process development. Lost at restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from .base import Entry, Store

__all__ = ["MemoryStore"]

#: Records examined between yields to the event loop while purging (a few ms of work).
PURGE_CHUNK = 20_000


class MemoryStore(Store):
    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float, tuple[str, ...]]] = {}
        self._tags: dict[str, set[str]] = {}

    def _live(self, key: str) -> tuple[bytes, float, tuple[str, ...]] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.time():
            self._remove(key)
            return None
        return item

    def _remove(self, key: str) -> bool:
        item = self._data.pop(key, None)
        if item is None:
            return False
        for tag in item[2]:
            members = self._tags.get(tag)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._tags[tag]
        return True

    async def get(self, key: str) -> Entry | None:
        item = self._live(key)
        return Entry(item[0], item[1]) if item else None

    def peek(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        item = self._live(key)
        if item is None or abs(expires_at - item[1]) >= min_step:
            return None
        return Entry(item[0], item[1])

    async def set(
        self, key: str, value: bytes, expires_at: float, tags: Sequence[str] = ()
    ) -> None:
        self._remove(key)
        self._data[key] = (value, expires_at, tuple(tags))
        for tag in tags:
            self._tags.setdefault(tag, set()).add(key)

    async def update(self, key: str, value: bytes) -> bool:
        item = self._live(key)
        if item is None:
            return False
        self._data[key] = (value, item[1], item[2])
        return True

    async def touch(self, key: str, expires_at: float) -> bool:
        item = self._live(key)
        if item is None:
            return False
        self._data[key] = (item[0], expires_at, item[2])
        return True

    async def delete(self, key: str) -> bool:
        return self._remove(key)

    async def pop(self, key: str) -> bytes | None:
        item = self._live(key)
        if item is None:
            return None
        self._remove(key)
        return item[0]

    async def add(self, key: str, expires_at: float) -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (b"", expires_at, ())
        return True

    async def delete_tagged(self, tag: str) -> int:
        keys = list(self._tags.get(tag, ()))
        return sum(self._remove(k) for k in keys)

    async def count(self, prefix: str = "") -> int:
        return sum(1 for k in list(self._data) if k.startswith(prefix) and self._live(k))

    async def purge_expired(self) -> int:
        now = time.time()
        keys = list(self._data)
        purged = 0
        for start in range(0, len(keys), PURGE_CHUNK):
            for key in keys[start : start + PURGE_CHUNK]:
                item = self._data.get(key)
                if item is not None and item[1] <= now:
                    purged += self._remove(key)
            await asyncio.sleep(0)  # let waiting requests run between chunks
        return purged

    async def ping(self) -> None:
        return None
