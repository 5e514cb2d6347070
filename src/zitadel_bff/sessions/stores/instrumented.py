"""A store that times every operation of another into the store-latency histogram.

Wrapped around the configured store only when metrics are on, so that a store without metrics
pays nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from ...observability.metrics import NullMetrics
from .base import Entry, Store

__all__ = ["InstrumentedStore"]


class InstrumentedStore(Store):
    def __init__(self, store: Store, metrics: NullMetrics) -> None:
        self.inner = store
        self._observe = metrics.store_seconds

    async def get(self, key: str) -> Entry | None:
        start = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self._observe("get", time.perf_counter() - start)

    async def get_and_touch(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        start = time.perf_counter()
        try:
            return await self.inner.get_and_touch(key, expires_at, min_step)
        finally:
            self._observe("get_and_touch", time.perf_counter() - start)

    def peek(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        # No I/O and well under a microsecond: not a store operation worth a histogram sample.
        return self.inner.peek(key, expires_at, min_step)

    async def set(
        self, key: str, value: bytes, expires_at: float, tags: Sequence[str] = ()
    ) -> None:
        start = time.perf_counter()
        try:
            await self.inner.set(key, value, expires_at, tags)
        finally:
            self._observe("set", time.perf_counter() - start)

    async def update(self, key: str, value: bytes) -> bool:
        start = time.perf_counter()
        try:
            return await self.inner.update(key, value)
        finally:
            self._observe("update", time.perf_counter() - start)

    async def touch(self, key: str, expires_at: float) -> bool:
        start = time.perf_counter()
        try:
            return await self.inner.touch(key, expires_at)
        finally:
            self._observe("touch", time.perf_counter() - start)

    async def delete(self, key: str) -> bool:
        start = time.perf_counter()
        try:
            return await self.inner.delete(key)
        finally:
            self._observe("delete", time.perf_counter() - start)

    async def pop(self, key: str) -> bytes | None:
        start = time.perf_counter()
        try:
            return await self.inner.pop(key)
        finally:
            self._observe("pop", time.perf_counter() - start)

    async def add(self, key: str, expires_at: float) -> bool:
        start = time.perf_counter()
        try:
            return await self.inner.add(key, expires_at)
        finally:
            self._observe("add", time.perf_counter() - start)

    async def delete_tagged(self, tag: str) -> int:
        start = time.perf_counter()
        try:
            return await self.inner.delete_tagged(tag)
        finally:
            self._observe("delete_tagged", time.perf_counter() - start)

    async def count(self, prefix: str = "") -> int:
        start = time.perf_counter()
        try:
            return await self.inner.count(prefix)
        finally:
            self._observe("count", time.perf_counter() - start)

    async def purge_expired(self) -> int:
        start = time.perf_counter()
        try:
            return await self.inner.purge_expired()
        finally:
            self._observe("purge_expired", time.perf_counter() - start)

    async def ping(self) -> None:
        start = time.perf_counter()
        try:
            await self.inner.ping()
        finally:
            self._observe("ping", time.perf_counter() - start)

    async def close(self) -> None:
        await self.inner.close()

    @asynccontextmanager
    async def lock(self, key: str, ttl: float) -> AsyncIterator[bool]:
        """Times the wait for the lock, not the work done under it."""
        start = time.perf_counter()
        async with self.inner.lock(key, ttl) as granted:
            self._observe("lock", time.perf_counter() - start)
            yield granted
