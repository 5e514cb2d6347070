"""A Redis store, for several app instances sharing sessions (``redis://host:port/db``).

Records are plain keys with a TTL; tags are Redis sets. ``pop`` is GETDEL, ``add`` is SET NX,
and :meth:`lock` is SET NX PX with a compare-and-delete release, so a token refresh happens once
across every instance.

Failures: every Redis or socket error leaves this module as StoreUnavailable (503). A restart of
Redis leaves every pooled connection stale; redis-py's own retry (exponential backoff, on
ConnectionError and TimeoutError) reconnects instead of failing the first commands after it.
A retried command may have run once already (a reply lost to a timeout): for GETDEL and SET NX
that errs on the safe side (the value counts as used, the key as seen), never a second use.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...errors import StoreUnavailable
from .base import Entry, Store

__all__ = ["RedisStore"]

logger = logging.getLogger(__name__)

TAG_PREFIX = "tag:"
TAGS_OF_PREFIX = "tagsof:"
UNLOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
LOCK_POLL = 0.02
SCAN_BATCH = 1000

#: Retries after a connection error or timeout, waiting 0.1, 0.2, 0.4, 0.5 s between them:
#: long enough to ride out a Redis restart, short enough to answer 503 quickly when it is down.
RETRIES = 4
RETRY_BACKOFF_BASE = 0.05
RETRY_BACKOFF_CAP = 0.5
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 2.0
#: A connection idle this long is PINGed before it carries a command (seconds).
HEALTH_CHECK_INTERVAL = 30
#: The most one Redis round trip may take, retries included. redis-py nests its retries (the
#: reconnect inside a command retries too), so the retry count alone does not bound the wait
#: for a Redis that is frozen or behind a black hole; this does.
OPERATION_TIMEOUT = 4.0


def _ttl_ms(expires_at: float) -> int:
    return max(1, math.ceil((expires_at - time.time()) * 1000))


def _client_options() -> dict[str, Any]:
    """The connection options :meth:`RedisStore.from_url` uses (a fresh Retry each call)."""
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "retry": Retry(ExponentialBackoff(cap=RETRY_BACKOFF_CAP, base=RETRY_BACKOFF_BASE), RETRIES),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }


class RedisStore(Store):
    def __init__(
        self, client: Any, *, prefix: str = "zbff:", timeout: float = OPERATION_TIMEOUT
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._timeout = timeout

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStore:
        """A store on a new client for ``url``; ``kwargs`` override the options above."""
        client = aioredis.Redis.from_url(url, **{**_client_options(), **kwargs})
        return cls(client)

    def _k(self, key: str) -> str:
        return self._prefix + key

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Bound the wait and turn every Redis or socket failure into StoreUnavailable."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except TimeoutError as exc:  # asyncio.timeout's, and socket timeouts
            raise StoreUnavailable(f"Redis did not answer within {self._timeout:g} s") from exc
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis store error: {exc.__class__.__name__}") from exc

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async with self._guard():
            return await getattr(self._redis, method)(*args, **kwargs)

    async def get(self, key: str) -> Entry | None:
        # One round trip: the value and its absolute expiry (PEXPIRETIME, Redis >= 7.0).
        async with self._guard(), self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._k(key))
            pipe.pexpiretime(self._k(key))
            value, expires_ms = await pipe.execute()
        if value is None or expires_ms < 0:
            return None
        return Entry(bytes(value), expires_ms / 1000)

    async def update(self, key: str, value: bytes) -> bool:
        return bool(await self._call("set", self._k(key), value, xx=True, keepttl=True))

    async def touch(self, key: str, expires_at: float) -> bool:
        at_ms = math.ceil(expires_at * 1000)
        if not await self._call("pexpireat", self._k(key), at_ms):
            return False
        tags_of = self._k(TAGS_OF_PREFIX + key)
        tags = await self._call("smembers", tags_of)
        async with self._guard(), self._redis.pipeline(transaction=False) as pipe:
            pipe.pexpireat(tags_of, at_ms)
            for tag in tags:
                # Tag sets live as long as their longest-lived member.
                pipe.pexpireat(self._k(TAG_PREFIX + tag.decode()), at_ms, gt=True)
            await pipe.execute()
        return True

    async def set(
        self, key: str, value: bytes, expires_at: float, tags: Sequence[str] = ()
    ) -> None:
        ttl = _ttl_ms(expires_at)
        old_tags = await self._call("smembers", self._k(TAGS_OF_PREFIX + key))
        async with self._guard(), self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k(key), value, px=ttl)
            for old in old_tags:
                if old.decode() not in tags:
                    pipe.srem(self._k(TAG_PREFIX + old.decode()), key)
            pipe.delete(self._k(TAGS_OF_PREFIX + key))
            for tag in tags:
                tag_key = self._k(TAG_PREFIX + tag)
                pipe.sadd(tag_key, key)
                pipe.pexpire(tag_key, ttl, gt=True)
                pipe.pexpire(tag_key, ttl, nx=True)
                pipe.sadd(self._k(TAGS_OF_PREFIX + key), tag)
            if tags:
                pipe.pexpire(self._k(TAGS_OF_PREFIX + key), ttl)
            await pipe.execute()

    async def delete(self, key: str) -> bool:
        tags = await self._call("smembers", self._k(TAGS_OF_PREFIX + key))
        for tag in tags:
            await self._call("srem", self._k(TAG_PREFIX + tag.decode()), key)
        await self._call("delete", self._k(TAGS_OF_PREFIX + key))
        return bool(await self._call("delete", self._k(key)))

    async def pop(self, key: str) -> bytes | None:
        value = await self._call("getdel", self._k(key))
        return bytes(value) if value is not None else None

    async def add(self, key: str, expires_at: float) -> bool:
        return bool(await self._call("set", self._k(key), b"", px=_ttl_ms(expires_at), nx=True))

    async def delete_tagged(self, tag: str) -> int:
        members = await self._call("smembers", self._k(TAG_PREFIX + tag))
        deleted = 0
        for member in members:
            deleted += await self.delete(member.decode())
        await self._call("delete", self._k(TAG_PREFIX + tag))
        return deleted

    async def count(self, prefix: str = "") -> int:
        # SCAN page by page (not scan_iter), so that each round trip has its own bound.
        total, cursor = 0, 0
        while True:
            cursor, keys = await self._call(
                "scan", cursor, match=self._k(prefix) + "*", count=SCAN_BATCH
            )
            total += len(keys)
            if cursor == 0:
                return total

    async def purge_expired(self) -> int:
        return 0  # Redis expires keys itself

    async def ping(self) -> None:
        await self._call("ping")

    async def close(self) -> None:
        """Close the client; a failure to disconnect politely is logged, not raised."""
        try:
            await self._redis.aclose()
        except (RedisError, OSError) as exc:
            logger.warning("closing the Redis client failed: %s", exc.__class__.__name__)

    @asynccontextmanager
    async def lock(self, key: str, ttl: float) -> AsyncIterator[bool]:
        """SET NX PX, polled until granted or ``ttl`` has passed.

        Yields True when granted; False when another holder kept it for all of ``ttl``: the
        lock is then NOT held and the caller must not act as though it were. Raises
        StoreUnavailable when Redis fails while acquiring. The lock expires after ``ttl`` on
        its own, so a release that fails (Redis gone) is logged, not raised: it must not hide
        the outcome of the work done under the lock.
        """
        token = secrets.token_hex(16)
        lock_key = self._k("lock:" + key)
        deadline = time.monotonic() + ttl
        acquired = False
        while not acquired and time.monotonic() < deadline:
            acquired = bool(
                await self._call("set", lock_key, token, px=int(ttl * 1000), nx=True)
            )
            if not acquired:
                await asyncio.sleep(LOCK_POLL)
        try:
            yield acquired
        finally:
            if acquired:
                await self._release(lock_key, token)

    async def _release(self, lock_key: str, token: str) -> None:
        try:
            await self._call("eval", UNLOCK_SCRIPT, 1, lock_key, token)
        except StoreUnavailable as exc:
            logger.warning("releasing a Redis lock failed (it expires by itself): %s", exc)
