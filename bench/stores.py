"""Session stores at scale: the real store classes filled with real sealed session records.

Every record is what :class:`SessionManager` writes: a ``SessionData`` sealed with the
:class:`Keyring` (AES-GCM, bound to its HMAC store key), tagged with the HMACs of its ``sub``
and ``sid``. Filling is batched so that 1,000,000 records take seconds, not an hour of
``store.set`` calls:

* SQLite: the file is created by ``SQLiteStore`` (schema, WAL), then rows are inserted with
  ``executemany`` in key order, 50,000 per transaction, on a second connection with
  ``synchronous=OFF``; the measurements then use a fresh ``SQLiteStore`` on that file.
* memory: ``MemoryStore.set`` itself (it is a dict; there is nothing to batch).
* Redis: the same commands ``RedisStore.set`` sends (SET PX, SADD and PEXPIRE for the tag
  sets), streamed through ``redis-cli --pipe`` without MULTI.

Measured per backend and size: lookup p50/p99 (``store.get`` of a random live session, and the
full ``SessionManager.load``: HMAC, get, decrypt, parse), the write rate (``SessionManager.create``:
seal + ``store.set`` with two tags), bytes per session, and the longest event-loop stall while
``purge_expired()`` deletes 10% of the records, sampled by a task that sleeps 1 ms in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import random
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import uvloop

from zitadel_bff.sessions import SESSION_ID_BYTES, Keyring, SessionData, SessionManager
from zitadel_bff.sessions.stores import MemoryStore, SQLiteStore, Store
from zitadel_bff.sessions.stores.sqlite import SCHEMA

from .servers import free_port

__all__ = ["run_stores"]

SECRET = "bench-secret-" + "x" * 40
IDLE_TIMEOUT = 3600
MAX_LIFETIME = 86400
LOOKUPS = 20_000
WRITES = 5_000
BATCH = 50_000
REDIS_BATCH = 10_000
SESSIONS_PER_USER = 4
PURGE_SHARE = 0.10
LAG_INTERVAL = 0.001


class _NoRefresh:
    """SessionManager needs a refresher only when a refresh is due; these records never are."""

    async def refresh(self, refresh_token: str, *, sub: str) -> Any:
        raise AssertionError("no refresh is due in the store benchmark")


def _record_json(value_size: int | None, now: float) -> tuple[bytes, SessionData]:
    """A session record of about ``value_size`` sealed bytes (padding the access token)."""
    claims: dict[str, Any] = {
        "sub": "301234567890123456", "name": "Ada Admin", "email": "admin@acme.localhost",
        "email_verified": True, "preferred_username": "admin", "locale": "en",
        "urn:zitadel:iam:org:project:roles": {"admin": {"3012": "acme.localhost"}},
        "urn:zitadel:iam:user:resourceowner:id": "301234567890123000"}
    data = SessionData(
        sub=claims["sub"], claims=claims, access_token="", id_token="i" * 800,
        refresh_token="r" * 43, access_expires_at=now + 43200, oidc_sid="s" * 36,
        created_at=now, refresh_at=now + 43140,
    )
    target = (value_size or 1500) - 29  # version byte, nonce and GCM tag
    data.access_token = "a" * max(16, target - len(data.to_json()))
    return data.to_json(), data


class Records:
    """Session ids, their store keys and sealed values, generated in key order, in batches."""

    def __init__(self, count: int, value_size: int | None) -> None:
        self.keyring = Keyring(SECRET)
        self.now = time.time()
        self.plain, self.template = _record_json(value_size, self.now)
        ids = [secrets.token_urlsafe(SESSION_ID_BYTES) for _ in range(count)]
        keyed = sorted((self.keyring.lookup_key("s", i), i) for i in ids)
        self.keys = [k for k, _ in keyed]
        self.ids = [i for _, i in keyed]
        self.expires_at = self.now + IDLE_TIMEOUT

    def tags(self, index: int) -> tuple[str, str]:
        return (self.keyring.lookup_key("sub", f"user-{index // SESSIONS_PER_USER}"),
                self.keyring.lookup_key("sid", f"sid-{index}"))

    def batches(self, size: int) -> Iterator[list[tuple[str, bytes, tuple[str, str]]]]:
        for start in range(0, len(self.keys), size):
            end = min(start + size, len(self.keys))
            yield [(self.keys[i], self.keyring.seal(self.plain, aad=self.keys[i].encode()),
                    self.tags(i)) for i in range(start, end)]

    @property
    def sealed_size(self) -> int:
        return len(self.keyring.seal(self.plain, aad=b"k"))


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _stats_us(samples: list[float]) -> dict[str, float]:
    return {"p50_us": round(_pct(samples, 0.50) * 1e6, 1),
            "p99_us": round(_pct(samples, 0.99) * 1e6, 1),
            "max_us": round(max(samples) * 1e6, 1)}


async def _timed(calls: list[Callable[[], Any]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


def _manager(store: Store, keyring: Keyring) -> SessionManager:
    return SessionManager(store=store, keyring=keyring, refresher=_NoRefresh(),
                          idle_timeout=IDLE_TIMEOUT, max_lifetime=MAX_LIFETIME)


async def _lookups(store: Store, records: Records) -> dict[str, Any]:
    rng = random.Random(7)
    picks = [rng.randrange(len(records.ids)) for _ in range(LOOKUPS)]
    manager = _manager(store, records.keyring)
    # Reads only: records older than the touch interval would also get their expiry moved.
    manager.touch_interval = float("inf")
    gets = await _timed([functools.partial(store.get, records.keys[i]) for i in picks])
    missing = [i for i in picks[:100] if await store.get(records.keys[i]) is None]
    assert not missing, f"{len(missing)} of 100 sampled sessions not found"
    loads = await _timed([functools.partial(manager.load, records.ids[i]) for i in picks])
    return {"get": _stats_us(gets), "load": _stats_us(loads)}


async def _writes(store: Store, records: Records) -> dict[str, float]:
    manager = _manager(store, records.keyring)
    start = time.perf_counter()
    for _ in range(WRITES):
        await manager.create(records.template)
    seconds = time.perf_counter() - start
    return {"creates_per_s": round(WRITES / seconds)}


async def _lag_during(work: Callable[[], Any]) -> dict[str, float]:
    """Run ``work`` while a task sleeping 1 ms measures how late the event loop wakes it."""
    lags: list[float] = []
    done = asyncio.Event()

    async def monitor() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL)
            lags.append(time.perf_counter() - start - LAG_INTERVAL)

    task = asyncio.create_task(monitor())
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    purged = await work()
    seconds = time.perf_counter() - start
    done.set()
    await task
    return {"purged": purged, "purge_s": round(seconds, 3),
            "max_pause_ms": round(max(lags) * 1000, 2),
            "p99_pause_ms": round(_pct(lags, 0.99) * 1000, 2)}


# SQLite -------------------------------------------------------------------------------------

async def _fill_sqlite(path: Path, records: Records) -> None:
    await SQLiteStore(path).close()  # schema and WAL mode, exactly as the app makes them
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    tags: list[tuple[str, str]] = []
    for batch in records.batches(BATCH):
        db.execute("BEGIN")
        db.executemany("INSERT INTO records (key, value, expires_at) VALUES (?, ?, ?)",
                       [(k, v, records.expires_at) for k, v, _ in batch])
        db.execute("COMMIT")
        tags.extend((t, k) for k, _, ts in batch for t in ts)
    tags.sort()
    for start in range(0, len(tags), BATCH * 2):
        db.execute("BEGIN")
        db.executemany("INSERT INTO tags (tag, key) VALUES (?, ?)", tags[start:start + BATCH * 2])
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _expire_sqlite(path: Path, count: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE records SET expires_at = 1 WHERE key IN "
               "(SELECT key FROM records ORDER BY random() LIMIT ?)", (count,))
    db.close()


async def _bench_sqlite(workdir: Path, records: Records) -> dict[str, Any]:
    path = workdir / f"bench-{len(records.keys)}.db"
    start = time.perf_counter()
    await _fill_sqlite(path, records)
    fill_s = time.perf_counter() - start
    size = path.stat().st_size
    # Steady state of a server whose database fits in RAM: the file is in the OS page cache.
    # (Right after the fill it may not be, and cold reads then dominate p99.)
    with path.open("rb") as warm:
        while warm.read(1 << 24):
            pass
    store = SQLiteStore(path)
    try:
        out: dict[str, Any] = {"fill_s": round(fill_s, 1),
                               "bytes_per_session": round(size / len(records.keys))}
        out["lookup"] = await _lookups(store, records)
        out["write"] = await _writes(store, records)
        _expire_sqlite(path, int(len(records.keys) * PURGE_SHARE))
        out["purge"] = await _lag_during(store.purge_expired)
        return out
    finally:
        await store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


# memory -------------------------------------------------------------------------------------

def _memory_bytes(store: MemoryStore) -> int:
    """Deep size of the store's dicts, keys, values, tuples and tag sets (shared strings once)."""
    size = sys.getsizeof
    total = size(store._data) + size(store._tags)
    for key, item in store._data.items():
        total += size(key) + size(item) + size(item[0]) + size(item[1]) + size(item[2])
    for tag, members in store._tags.items():
        total += size(tag) + size(members)
    return total


async def _bench_memory(records: Records) -> dict[str, Any]:
    store = MemoryStore()
    start = time.perf_counter()
    for batch in records.batches(BATCH):
        for key, value, tags in batch:
            await store.set(key, value, records.expires_at, tags)
    fill_s = time.perf_counter() - start
    out: dict[str, Any] = {"fill_s": round(fill_s, 1),
                           "bytes_per_session": round(_memory_bytes(store) / len(records.keys))}
    out["lookup"] = await _lookups(store, records)
    out["write"] = await _writes(store, records)
    data = store._data  # white box: age 10% of the records in place, as time would
    for key in random.Random(3).sample(records.keys, int(len(records.keys) * PURGE_SHARE)):
        value, _, record_tags = data[key]
        data[key] = (value, 1.0, record_tags)
    out["purge"] = await _lag_during(store.purge_expired)
    del store, data
    gc.collect()
    return out


# Redis --------------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def _redis_server(workdir: Path) -> AsyncIterator[Any]:
    from redis import asyncio as aioredis

    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            with contextlib.suppress(Exception):
                await client.ping()
                break
            await asyncio.sleep(0.05)
        yield client, port
    finally:
        await client.aclose()
        proc.terminate()
        proc.wait(10)


def _resp(*args: bytes) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += [b"$%d\r\n" % len(arg), arg, b"\r\n"]
    return b"".join(parts)


def _fill_redis(port: int, records: Records, prefix: str) -> None:
    """The commands RedisStore.set sends, streamed through ``redis-cli --pipe``."""
    ttl = str(IDLE_TIMEOUT * 1000).encode()
    pre = prefix.encode()
    proc = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    for batch in records.batches(REDIS_BATCH):
        out = []
        for key, value, tags in batch:
            # RedisStore's layout: zbff:{KEY}, zbff:{KEY}:tags, zbff:tag:{TAG} (hash tags)
            k = key.encode()
            record = pre + b"{" + k + b"}"
            out.append(_resp(b"SET", record, value, b"PX", ttl))
            for tag in tags:
                tag_key = pre + b"tag:{" + tag.encode() + b"}"
                out.append(_resp(b"SADD", tag_key, k))
                out.append(_resp(b"PEXPIRE", tag_key, ttl))
            out.append(_resp(b"SADD", record + b":tags", *(t.encode() for t in tags)))
            out.append(_resp(b"PEXPIRE", record + b":tags", ttl))
        proc.stdin.write(b"".join(out))
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("redis-cli --pipe failed")


async def _bench_redis(workdir: Path, records: Records) -> dict[str, Any]:
    from zitadel_bff.sessions.stores.redis import RedisStore

    async with _redis_server(workdir) as (client, port):
        before = (await client.info("memory"))["used_memory"]
        start = time.perf_counter()
        await asyncio.to_thread(_fill_redis, port, records, "zbff:")
        fill_s = time.perf_counter() - start
        after = (await client.info("memory"))["used_memory"]
        # The client the app builds (its timeouts, retries and health checks; hiredis).
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
        out: dict[str, Any] = {"fill_s": round(fill_s, 1),
                               "bytes_per_session": round((after - before) / len(records.keys))}
        out["lookup"] = await _lookups(store, records)
        out["write"] = await _writes(store, records)
        out["purge"] = {"note": "Redis expires keys itself (incrementally); nothing to purge"}
        await store.close()
        return out


# entry point --------------------------------------------------------------------------------

async def _run(sizes: list[int], workdir: Path, value_size: int | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    redis = shutil.which("redis-server") is not None
    for count in sizes:
        print(f"- stores at {count:,} sessions: generating records", flush=True)
        records = Records(count, value_size)
        results.setdefault("sealed_bytes", records.sealed_size)
        backends: list[tuple[str, Callable[[], Any]]] = [
            ("sqlite", functools.partial(_bench_sqlite, workdir, records)),
            ("memory", functools.partial(_bench_memory, records)),
        ]
        if redis:
            backends.append(("redis", functools.partial(_bench_redis, workdir, records)))
        for name, bench in backends:
            start = time.perf_counter()
            result = await bench()
            results.setdefault(name, {})[str(count)] = result
            lookup, load = result["lookup"]["get"], result["lookup"]["load"]
            print(f"  {name:<6} fill {result['fill_s']:>5} s  get p50 {lookup['p50_us']} us  "
                  f"p99 {lookup['p99_us']} us  load p50 {load['p50_us']} us  "
                  f"p99 {load['p99_us']} us  {result['bytes_per_session']} B/session  "
                  f"purge pause {result['purge'].get('max_pause_ms', '-')} ms  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        del records
        gc.collect()
    if not redis:
        results["redis"] = {"skipped": "redis-server not installed"}
    return results


def run_stores(sizes: list[int], workdir: Path, *, value_size: int | None = None
               ) -> dict[str, Any]:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_run(sizes, workdir, value_size))
