"""The small async interface every session store implements.

Values are opaque bytes (already sealed). A record may carry tags (e.g. the HMAC of a ZITADEL
``sid`` or ``sub``) so that every record of a tag can be deleted at once: back-channel logout and
"end all sessions of a user" cost one indexed delete.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple

__all__ = ["Entry", "Store"]


class Entry(NamedTuple):
    """A live record: its value and when it expires (Unix time)."""

    value: bytes
    expires_at: float


class Store(abc.ABC):
    """get / set with expiry / delete, plus the few atomic operations login and logout need.

    ``expires_at`` is a Unix timestamp; an expired record is never returned. Whoever creates a
    store closes it with :meth:`close`.
    """

    @abc.abstractmethod
    async def get(self, key: str) -> Entry | None:
        """The live record under ``key`` with its expiry, or None."""

    @abc.abstractmethod
    async def set(
        self, key: str, value: bytes, expires_at: float, tags: Sequence[str] = ()
    ) -> None:
        """Create or replace ``key``; its tags replace the old ones."""

    @abc.abstractmethod
    async def update(self, key: str, value: bytes) -> bool:
        """Replace the value of a live record, keeping its expiry and tags; False if it is gone
        (an ended record is never brought back)."""

    @abc.abstractmethod
    async def touch(self, key: str, expires_at: float) -> bool:
        """Move a live record's expiry (and its tags') to ``expires_at``, keeping its value;
        False if it is gone. With :meth:`update` this lets a sliding expiry and a token
        rotation be written concurrently without either losing the other."""

    async def get_and_touch(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        """:meth:`get`, and when the record is live and its expiry differs from ``expires_at``
        by ``min_step`` or more, :meth:`touch` it to ``expires_at``; the entry returned
        carries the expiry it has afterwards. The session hot path: backends that can do both
        in one round trip (Redis) override it."""
        entry = await self.get(key)
        if entry is None or abs(expires_at - entry.expires_at) < min_step:
            return entry
        if not await self.touch(key, expires_at):
            return None  # ended a moment ago
        return Entry(entry.value, expires_at)

    def peek(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        """What :meth:`get_and_touch` would return, when the store knows it without I/O and
        there is nothing to write (the record is live and its expiry within ``min_step`` of
        ``expires_at``); None when it cannot say (then call :meth:`get_and_touch`). The
        session hot path: stores that hold or remember records in process override it."""
        return None

    @abc.abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def pop(self, key: str) -> bytes | None:
        """Return and delete ``key`` atomically: at most one caller ever gets the value."""

    @abc.abstractmethod
    async def add(self, key: str, expires_at: float) -> bool:
        """Create ``key`` if absent; False if it exists (replay detection)."""

    @abc.abstractmethod
    async def delete_tagged(self, tag: str) -> int:
        """Delete every record carrying ``tag``; return how many."""

    @abc.abstractmethod
    async def count(self, prefix: str = "") -> int:
        """Live records whose key starts with ``prefix``."""

    @abc.abstractmethod
    async def purge_expired(self) -> int:
        """Delete expired records in small batches; return how many."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot serve requests."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @asynccontextmanager
    async def lock(self, key: str, ttl: float) -> AsyncIterator[bool]:
        """A lock shared by every app instance using this store.

        Yields True when the lock is held, False when it could not be had within ``ttl``: the
        caller must then NOT do the guarded work. Raises StoreUnavailable when the store cannot
        be asked. Stores used by one process only need no cross-process lock: the default
        yields True.
        """
        yield True
