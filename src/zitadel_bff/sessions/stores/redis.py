"""A Redis store, for several app instances sharing sessions: one server (``redis://``), a
Sentinel-managed master (``redis+sentinel://h:p,h2:p/master/db``) or a Cluster
(``redis+cluster://h:p,h2:p/``), each with redis-py's own client.

Layout (hash tags, so that what must live together lives in one cluster slot)::

    zbff:{KEY}            the record (a string with a TTL)
    zbff:{KEY}:tags       the tags of the record (a set, same slot, same TTL)
    zbff:{KEY}:lock       the record's refresh lock (same slot)
    zbff:tag:{TAG}        the records carrying TAG (a set; in the slot of TAG)

The hot path is one round trip: :meth:`get_and_touch` is a script that reads the value and its
absolute expiry (PEXPIRETIME, Redis >= 7.0) and moves the expiry when it is due. That script
runs on a lean channel of its own (:class:`~.redis_channel.ScriptChannel`: one dedicated
connection, calls pipelined, replies parsed by hiredis), about a third of redis-py's CPU per
read: to the one server, to the Sentinel master, or on a Cluster to the primary of the
record's slot (one channel per primary, routed by redis-py's slot map). Whenever a channel
cannot run a read, redis-py's client runs it.

``pop`` is GETDEL, ``add`` SET NX, and :meth:`lock` SET NX PX with a compare-and-delete
release, so a token refresh happens once across every instance. Writes that span slots (a
record and its tag sets) are one MULTI on a single server or Sentinel master, and a pipeline
per node on a Cluster.

Failures: every Redis or socket error leaves this module as StoreUnavailable (503). A restart of
Redis (or a Sentinel failover) leaves every pooled connection stale; redis-py's own retry
(exponential backoff, on ConnectionError and TimeoutError) reconnects, asking the sentinels for
the current master, instead of failing the first commands after it. A retried command may have
run once already (a reply lost to a timeout): for GETDEL and SET NX that errs on the safe side
(the value counts as used, the key as seen), never a second use. A read whose channel
connection is lost under it is run again by redis-py's client (a read, and an expiry moved to
an absolute time, may run twice); a frozen Redis fails it when the bound passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

from redis import asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.credentials import UsernamePasswordCredentialProvider
from redis.exceptions import (
    AuthenticationError,
    NoScriptError,
    RedisClusterException,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...config import split_hosts
from ...errors import StoreUnavailable
from .base import Entry, Store
from .redis_channel import ChannelUnavailable, ScriptChannel

__all__ = ["RedisStore"]

logger = logging.getLogger(__name__)

#: The value, its absolute expiry in ms and, when it moved the expiry of a record with tags,
#: those tags. ARGV: the wanted expiry in ms (0: do not move it) and the least move in ms.
GET_AND_TOUCH_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
local at = redis.call('PEXPIRETIME', KEYS[1])
local want = tonumber(ARGV[1])
if want > 0 and math.abs(want - at) >= tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[1], want)
  if redis.call('PEXPIREAT', KEYS[2], want) == 1 then
    return {value, want, redis.call('SMEMBERS', KEYS[2])}
  end
  return {value, want}
end
return {value, at}
"""
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
#: A connection idle this long is PINGed before it carries a command (seconds).
HEALTH_CHECK_INTERVAL = 30
#: The most one Redis round trip may take, retries included. redis-py nests its retries (the
#: reconnect inside a command retries too), so the retry count alone does not bound the wait
#: for a Redis that is frozen or behind a black hole; this does.
OPERATION_TIMEOUT = 4.0
#: The most opening the hot-path channel may take: a sentinel query, a connection, its AUTH.
CHANNEL_CONNECT_TIMEOUT = 2 * CONNECT_TIMEOUT
#: A step no expiry ever moves by (seconds): 100 years.
MAX_STEP = 100 * 365 * 86400.0
GLOB_SPECIALS = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def _at_ms(expires_at: float) -> int:
    """An absolute expiry in ms (PXAT, PEXPIREAT): exact whatever the round trips take."""
    return math.ceil(expires_at * 1000)


def _client_options() -> dict[str, Any]:
    """The connection options :meth:`RedisStore.from_url` uses (a fresh Retry each call).

    No socket_timeout: every command is bounded by OPERATION_TIMEOUT here, and redis-py's
    own read timeout would cost a timer per read on the hot path (about a third of a GET).
    """
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": None,
        "retry": Retry(ExponentialBackoff(cap=RETRY_BACKOFF_CAP, base=RETRY_BACKOFF_BASE), RETRIES),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }


def _credentials(userinfo: str) -> dict[str, Any]:
    if not userinfo:
        return {}
    user, _, password = userinfo.partition(":")
    return {"username": unquote(user) or None, "password": unquote(password) or None}


def _sentinel_client(url: str, options: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The master client of ``redis+sentinel://[user:pw@]h:p,h2:p/master/db``, and the
    sentinel clients to close with it. The credentials are the master's."""
    userinfo, hosts, path = split_hosts(url)
    service, _, database = path.strip("/").partition("/")
    # The sentinels are asked only when (re)connecting: a plain read timeout suffices there.
    sentinel_options = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": CONNECT_TIMEOUT,
    }
    sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(
        service, db=int(database or 0), **_credentials(userinfo), **options
    )
    return client, list(sentinel.sentinels)


def _cluster_client(url: str, options: dict[str, Any]) -> RedisCluster:
    userinfo, hosts, _ = split_hosts(url)
    options = {k: v for k, v in options.items() if k != "retry_on_error"}
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in hosts],
        **_credentials(userinfo),
        **options,
    )


def _channel(probe: Any, address: Callable[[], Awaitable[tuple[str, int]]] | None = None, *,
             require_master: bool = False) -> ScriptChannel | None:
    """A lean channel for the hot-path script that connects as ``probe`` would: a redis-py
    connection, never connected, built from the URL and options by redis-py (address, TLS,
    credentials, database, client name). None for one the channel cannot follow (a Unix
    socket). ``address``: where to connect instead of the probe's host and port."""
    if not isinstance(probe, Connection):
        return None
    fixed = (str(probe.host), int(probe.port))

    async def probe_address() -> tuple[str, int]:
        return fixed

    provider = probe.credential_provider
    if provider is None and (probe.username or probe.password):
        provider = UsernamePasswordCredentialProvider(probe.username, probe.password)

    async def credentials() -> tuple[str, ...]:
        return tuple(await provider.get_credentials_async()) if provider is not None else ()

    return ScriptChannel(
        GET_AND_TOUCH_SCRIPT,
        address=address or probe_address,
        credentials=credentials,
        db=int(probe.db or 0),
        ssl_context=probe.ssl_context.get if isinstance(probe, SSLConnection) else None,
        client_name=probe.client_name,
        require_master=require_master,
        connect_timeout=CHANNEL_CONNECT_TIMEOUT,
    )


def _hot_channel(client: Any, *, sentinel: bool = False) -> ScriptChannel | None:
    """The channel of a one-server or Sentinel client. On Sentinel the master is asked of
    the sentinels through redis-py's pool at every (re)connection, and must say it is one."""
    pool = client.connection_pool
    if not sentinel:
        return _channel(pool.make_connection())

    async def master() -> tuple[str, int]:
        try:
            host, port = await pool.get_master_address()
        except RedisError as exc:
            raise ChannelUnavailable(f"no master from the sentinels: {exc}") from exc
        return str(host), int(port)

    return _channel(pool.make_connection(), master, require_master=True)


class ClusterChannels:
    """One channel per Cluster primary, chosen by the slot map of redis-py's cluster client.

    A record and its tag set share a hash tag, so one node runs the whole script. When the
    map is stale (a slot moved, a primary failed over) that node answers MOVED or ASK, or
    the connection is lost: the read goes to redis-py's client, which follows the redirect
    and refreshes the map that the next read is routed by.
    """

    def __init__(self, client: RedisCluster) -> None:
        self._client = client
        self._channels: dict[str, ScriptChannel | None] = {}

    def for_key(self, key: str) -> ScriptChannel | None:
        try:
            node = self._client.get_node_from_key(key)
        except RedisClusterException:  # no slot map before redis-py's first command
            return None
        if node is None:
            return None
        if node.name not in self._channels:
            probe = node.connection_class(**node.connection_kwargs)  # never connected
            self._channels[node.name] = _channel(probe)
        return self._channels[node.name]

    @property
    def channels(self) -> list[ScriptChannel]:
        return [c for c in self._channels.values() if c is not None]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


class RedisStore(Store):
    """``cluster``: the client is a RedisCluster (writes across slots are not one MULTI).
    ``channel``: the lean connection the hot-path script runs on when it can (redis-py's
    client runs it otherwise), or ``cluster_channels`` on a Cluster; :meth:`from_url` makes
    them."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "zbff:",
        timeout: float = OPERATION_TIMEOUT,
        cluster: bool = False,
        also_close: Sequence[Any] = (),
        channel: ScriptChannel | None = None,
        cluster_channels: ClusterChannels | None = None,
    ) -> None:
        self._redis = client
        self.channel = channel
        self.cluster_channels = cluster_channels
        self._prefix = prefix
        self._timeout = timeout
        self._cluster = cluster
        self._also_close = list(also_close)
        self._scripts: dict[str, Any] = {}
        # Redis names scripts by their SHA-1 (EVALSHA); not a security use.
        self._get_and_touch_sha = hashlib.sha1(
            GET_AND_TOUCH_SCRIPT.encode(), usedforsecurity=False
        ).hexdigest()

    @classmethod
    def from_url(cls, url: str, *, timeout: float = OPERATION_TIMEOUT, **kwargs: Any
                 ) -> RedisStore:
        """A store on a new client for ``url``; ``kwargs`` override the options above, and
        ``timeout`` bounds each operation."""
        options = {**_client_options(), **kwargs}
        if url.startswith("redis+sentinel://"):
            client, sentinels = _sentinel_client(url, options)
            return cls(client, timeout=timeout, also_close=sentinels,
                       channel=_hot_channel(client, sentinel=True))
        if url.startswith("redis+cluster://"):
            client = _cluster_client(url, options)
            return cls(client, timeout=timeout, cluster=True,
                       cluster_channels=ClusterChannels(client))
        client = aioredis.Redis.from_url(url, **options)
        return cls(client, timeout=timeout, channel=_hot_channel(client))

    # Keys ----------------------------------------------------------------------------------

    def _record(self, key: str) -> str:
        return f"{self._prefix}{{{key}}}"

    def _tags_of(self, key: str) -> str:
        return f"{self._prefix}{{{key}}}:tags"

    def _tag(self, tag: str) -> str:
        return f"{self._prefix}tag:{{{tag}}}"

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        if isinstance(exc, TimeoutError):  # asyncio.timeout's, and socket timeouts
            return StoreUnavailable(f"Redis did not answer within {self._timeout:g} s")
        if isinstance(exc, AuthenticationError):  # the server's words carry no secret
            return StoreUnavailable(f"Redis refused the credentials: {exc}")
        return StoreUnavailable(f"Redis store error: {exc.__class__.__name__}")

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Bound the wait and turn every Redis or socket failure into StoreUnavailable."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except (TimeoutError, RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async with self._guard():
            return await getattr(self._redis, method)(*args, **kwargs)

    def _script(self, source: str) -> Any:
        """redis-py's script object: EVALSHA, loading the script when the server lacks it."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._redis.register_script(source)
        return script

    def _pipeline(self) -> Any:
        """A MULTI on one server; on a Cluster, a pipeline that each node runs in order."""
        return self._redis.pipeline(transaction=not self._cluster)

    # Reads ---------------------------------------------------------------------------------

    async def _read(self, key: str, want_ms: int, step_ms: int) -> Entry | None:
        # The hot path: the guard written out (no context-manager generator per request).
        keys, args = (self._record(key), self._tags_of(key)), (want_ms, step_ms)
        deadline = asyncio.get_running_loop().time() + self._timeout
        channel = self.channel
        if channel is None and self.cluster_channels is not None:
            channel = self.cluster_channels.for_key(keys[0])
        try:
            if channel is None:
                reply = await self._run_on_client(keys, args, deadline)
            else:
                try:
                    reply = await channel.run(keys, args, deadline)
                except ChannelUnavailable:
                    # Not connected, or the connection was lost under this call: redis-py's
                    # client runs it (retrying, reconnecting) in what is left of the bound.
                    reply = await self._run_on_client(keys, args, deadline)
        except (TimeoutError, RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        if reply is None:
            return None
        value, at_ms = reply[0], reply[1]
        if at_ms < 0:
            return None
        if len(reply) > 2 and reply[2]:
            await self._touch_tags(reply[2], at_ms)
        return Entry(bytes(value), at_ms / 1000)

    async def _run_on_client(self, keys: tuple[str, str], args: tuple[int, int],
                             deadline: float) -> Any:
        async with asyncio.timeout_at(deadline):
            try:
                return await self._redis.evalsha(self._get_and_touch_sha, 2, *keys, *args)
            except NoScriptError:  # a new, restarted or failed-over server: load it
                return await self._script(GET_AND_TOUCH_SCRIPT)(keys=keys, args=args)

    async def get(self, key: str) -> Entry | None:
        return await self._read(key, 0, 0)

    async def get_and_touch(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        """One round trip, unless the expiry moved on a record with tags (then the tag sets
        follow in a second)."""
        step_ms = math.floor(min(min_step, MAX_STEP) * 1000)  # min_step may be infinite
        return await self._read(key, _at_ms(expires_at), step_ms)

    async def touch(self, key: str, expires_at: float) -> bool:
        return await self._read(key, _at_ms(expires_at), 0) is not None

    async def _touch_tags(self, tags: Sequence[bytes], at_ms: int) -> None:
        async with self._guard(), self._redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                # Tag sets live as long as their longest-lived member.
                pipe.pexpireat(self._tag(tag.decode()), at_ms, gt=True)
            await pipe.execute()

    # Writes --------------------------------------------------------------------------------

    async def update(self, key: str, value: bytes) -> bool:
        return bool(await self._call("set", self._record(key), value, xx=True, keepttl=True))

    async def set(
        self, key: str, value: bytes, expires_at: float, tags: Sequence[str] = ()
    ) -> None:
        at_ms = _at_ms(expires_at)
        tags_of = self._tags_of(key)
        old_tags = await self._call("smembers", tags_of)
        async with self._guard(), self._pipeline() as pipe:
            # The tag index first: a back-channel logout racing this write still finds it.
            for old in old_tags:
                if old.decode() not in tags:
                    pipe.srem(self._tag(old.decode()), key)
            for tag in tags:
                tag_key = self._tag(tag)
                pipe.sadd(tag_key, key)
                pipe.pexpireat(tag_key, at_ms, gt=True)
                pipe.pexpireat(tag_key, at_ms, nx=True)
            pipe.set(self._record(key), value, pxat=at_ms)
            pipe.delete(tags_of)
            if tags:
                pipe.sadd(tags_of, *tags)
                pipe.pexpireat(tags_of, at_ms)
            await pipe.execute()

    async def delete(self, key: str) -> bool:
        tags_of = self._tags_of(key)
        tags = await self._call("smembers", tags_of)
        async with self._guard(), self._pipeline() as pipe:
            pipe.delete(self._record(key))
            pipe.delete(tags_of)
            for tag in tags:
                pipe.srem(self._tag(tag.decode()), key)
            results = await pipe.execute()
        return bool(results[0])

    async def pop(self, key: str) -> bytes | None:
        value = await self._call("getdel", self._record(key))
        return bytes(value) if value is not None else None

    async def add(self, key: str, expires_at: float) -> bool:
        return bool(
            await self._call("set", self._record(key), b"", pxat=_at_ms(expires_at), nx=True)
        )

    async def delete_tagged(self, tag: str) -> int:
        members = await self._call("smembers", self._tag(tag))
        deleted = 0
        for member in members:
            deleted += await self.delete(member.decode())
        await self._call("delete", self._tag(tag))
        return deleted

    async def count(self, prefix: str = "") -> int:
        # Records only: their keys end with the closing brace of the hash tag.
        match = f"{self._prefix}{{{prefix.translate(GLOB_SPECIALS)}*}}"
        if self._cluster:
            async with self._guard():
                return len([k async for k in self._redis.scan_iter(match=match,
                                                                   count=SCAN_BATCH)])
        # SCAN page by page (not scan_iter), so that each round trip has its own bound.
        total, cursor = 0, 0
        while True:
            cursor, keys = await self._call("scan", cursor, match=match, count=SCAN_BATCH)
            total += len(keys)
            if cursor == 0:
                return total

    async def purge_expired(self) -> int:
        return 0  # Redis expires keys itself

    async def ping(self) -> None:
        await self._call("ping")

    async def close(self) -> None:
        """Close the clients; a failure to disconnect politely is logged, not raised."""
        if self.channel is not None:
            await self.channel.close()
        if self.cluster_channels is not None:
            await self.cluster_channels.close()
        for client in (self._redis, *self._also_close):
            try:
                await client.aclose()
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
        lock_key = f"{self._prefix}{{{key}}}:lock"
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
            async with self._guard():
                await self._script(UNLOCK_SCRIPT)(keys=[lock_key], args=[token])
        except StoreUnavailable as exc:
            logger.warning("releasing a Redis lock failed (it expires by itself): %s", exc)
