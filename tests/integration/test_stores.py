"""One contract, every store: memory, a real SQLite file, a real redis-server."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.redis import RedisServer, redis_required
from tests.support.server import AppFactory
from zitadel_bff.errors import StoreUnavailable
from zitadel_bff.sessions import MemoryStore, SQLiteStore, Store, store_from_url
from zitadel_bff.sessions.stores import redis as redis_store
from zitadel_bff.sessions.stores import sqlite as sqlite_store


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer | None]:
    if not RedisServer.available():
        if redis_required():
            pytest.fail("redis-server is not installed but REDIS_REQUIRED/E2E_REQUIRED is set")
        yield None
        return
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may kill, restart or freeze."""
    if not RedisServer.available():
        if redis_required():
            pytest.fail("redis-server is not installed but REDIS_REQUIRED/E2E_REQUIRED is set")
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-sentinel", "redis-cluster"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer | None
) -> AsyncIterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    elif request.param == "sqlite":
        s = SQLiteStore(tmp_path / "store.db")
    else:
        if request.param == "redis-sentinel":
            url = request.getfixturevalue("redis_sentinel").url
        elif request.param == "redis-cluster":
            url = request.getfixturevalue("redis_cluster").url
        elif redis_server is None:
            pytest.skip("redis-server is not installed")
        else:
            url = redis_server.url
        redis = store_from_url(url)
        assert isinstance(redis, redis_store.RedisStore)
        await redis._redis.flushdb()
        s = redis
    yield s
    await s.close()


def later(seconds: float = 60) -> float:
    return time.time() + seconds


async def value(store: Store, key: str) -> bytes | None:
    entry = await store.get(key)
    return entry.value if entry is not None else None


async def test_set_get_delete(store: Store) -> None:
    assert await store.get("s:a") is None
    await store.set("s:a", b"one", later())
    assert await value(store, "s:a") == b"one"
    await store.set("s:a", b"two", later())
    assert await value(store, "s:a") == b"two"
    assert await store.delete("s:a") is True
    assert await store.delete("s:a") is False
    assert await store.get("s:a") is None


async def test_get_returns_the_expiry(store: Store) -> None:
    expires_at = later()
    await store.set("s:a", b"v", expires_at)
    entry = await store.get("s:a")
    assert entry is not None and entry.value == b"v"
    assert entry.expires_at == pytest.approx(expires_at, abs=0.002)  # Redis keeps ms


def expire_now() -> float:
    """An expiry already past: a record moved there is expired at once, in every store
    (Redis deletes a key whose PEXPIREAT is in the past), so no test waits for time to pass."""
    return time.time() - 1


async def test_expired_records_are_never_returned(store: Store) -> None:
    await store.set("s:a", b"v", later())
    assert await value(store, "s:a") == b"v"
    assert await store.touch("s:a", expire_now()) is True
    assert await store.get("s:a") is None
    assert await store.pop("s:a") is None
    assert await store.update("s:a", b"w") is False
    assert await store.touch("s:a", later()) is False


async def test_update_keeps_the_expiry_and_the_tags(store: Store) -> None:
    expires_at = later()
    await store.set("s:a", b"old", expires_at, ["sub:u"])
    assert await store.update("s:a", b"new") is True
    entry = await store.get("s:a")
    assert entry is not None and entry.value == b"new"
    assert entry.expires_at == pytest.approx(expires_at, abs=0.002)
    assert await store.delete_tagged("sub:u") == 1


async def test_update_never_brings_an_ended_record_back(store: Store) -> None:
    assert await store.update("s:gone", b"v") is False
    await store.set("s:a", b"v", later())
    await store.delete("s:a")
    assert await store.update("s:a", b"v") is False
    assert await store.get("s:a") is None


async def test_touch_moves_the_expiry_and_keeps_the_value_and_tags(store: Store) -> None:
    await store.set("s:a", b"v", later(10), ["sub:u"])
    expires_at = later(120)
    assert await store.touch("s:a", expires_at) is True
    entry = await store.get("s:a")
    assert entry is not None and entry.value == b"v"
    assert entry.expires_at == pytest.approx(expires_at, abs=0.002)
    assert await store.delete_tagged("sub:u") == 1
    assert await store.touch("s:a", later()) is False


async def test_get_and_touch_moves_the_expiry_by_at_least_the_step(store: Store) -> None:
    first = later(60)
    await store.set("s:a", b"v", first, ["sub:u"])
    unmoved = await store.get_and_touch("s:a", first + 5, 10)
    assert unmoved is not None and unmoved.value == b"v"
    assert unmoved.expires_at == pytest.approx(first, abs=0.002)
    target = later(600)
    moved = await store.get_and_touch("s:a", target, 10)
    assert moved is not None and moved.value == b"v"
    assert moved.expires_at == pytest.approx(target, abs=0.002)
    entry = await store.get("s:a")
    assert entry is not None and entry.expires_at == pytest.approx(target, abs=0.002)
    assert await store.get_and_touch("s:other", target, 10) is None
    assert await store.delete_tagged("sub:u") == 1  # the tags followed the record


async def test_lock_is_exclusive_until_released(store: Store) -> None:
    async with store.lock("s:l", 5) as first, store.lock("s:l", 0.1) as second:
        expected = (True, True) if isinstance(store, MemoryStore) else (True, False)
        assert (first, second) == expected  # the memory store serves one process only
    async with store.lock("s:l", 0.1) as third:
        assert third is True


async def test_sqlite_lock_is_shared_by_every_process_on_the_file(tmp_path: Path) -> None:
    """Two stores on one file, as two workers have: one holds the lock, the other waits."""
    first, second = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    try:
        async with first.lock("s:l", 5) as held, second.lock("s:l", 0.1) as other:
            assert (held, other) == (True, False)
        async with second.lock("s:l", 0.1) as after:
            assert after is True
        # A holder that died leaves a row that expires after its ttl; then the lock is free.
        first._db.execute(
            "INSERT INTO locks (key, token, expires_at) VALUES ('s:dead', 'x', ?)",
            (time.time() - 1,),
        )
        async with second.lock("s:dead", 0.1) as taken:
            assert taken is True
    finally:
        await first.close()
        await second.close()


async def test_pop_is_one_time_even_when_concurrent(store: Store) -> None:
    await store.set("t:x", b"tx", later())
    results = await asyncio.gather(*[store.pop("t:x") for _ in range(10)])
    assert results.count(b"tx") == 1 and results.count(None) == 9


async def test_add_detects_replays(store: Store) -> None:
    assert await store.add("j:1", later()) is True
    assert await store.add("j:1", later()) is False
    assert await store.add("j:2", later()) is True


async def test_add_after_expiry_is_new_again(store: Store) -> None:
    assert await store.add("j:1", later()) is True
    assert await store.touch("j:1", expire_now()) is True
    assert await store.add("j:1", later()) is True
    assert await store.add("j:1", later()) is False


async def test_tags_index_records(store: Store) -> None:
    await store.set("s:1", b"a", later(), ["sub:u1", "sid:x"])
    await store.set("s:2", b"b", later(), ["sub:u1", "sid:y"])
    await store.set("s:3", b"c", later(), ["sub:u2", "sid:z"])
    assert await store.delete_tagged("sid:x") == 1
    assert await store.get("s:1") is None and await value(store, "s:2") == b"b"
    assert await store.delete_tagged("sub:u1") == 1
    assert await store.get("s:2") is None and await value(store, "s:3") == b"c"
    assert await store.delete_tagged("sub:u1") == 0
    assert await store.delete_tagged("sub:nobody") == 0


async def test_replacing_a_record_replaces_its_tags(store: Store) -> None:
    await store.set("s:1", b"a", later(), ["sid:old"])
    await store.set("s:1", b"b", later(), ["sid:new"])
    assert await store.delete_tagged("sid:old") == 0
    assert await value(store, "s:1") == b"b"
    assert await store.delete_tagged("sid:new") == 1


async def test_count_and_purge(store: Store) -> None:
    for i in range(5):
        await store.set(f"s:{i}", b"v", later(), [f"sub:{i}"])
    await store.set("s:old", b"v", later(), ["sub:old"])
    await store.set("t:1", b"v", later())
    assert await store.count("s:") == 6
    assert await store.touch("s:old", expire_now()) is True
    assert await store.count("s:") == 5
    await store.purge_expired()
    assert await store.count("s:") == 5
    assert await store.delete_tagged("sub:old") == 0


async def test_purge_removes_what_expired_and_says_how_much(store: Store) -> None:
    await store.set("s:old", b"v", later(), ["sub:u"])
    await store.set("s:live", b"v", later(), ["sub:u"])
    assert await store.touch("s:old", expire_now()) is True
    # Redis drops expired keys itself: there is nothing left for a purge to count.
    expected = 0 if isinstance(store, redis_store.RedisStore) else 1
    assert await store.purge_expired() == expected
    assert await store.purge_expired() == 0
    assert await store.count("s:") == 1
    assert await store.delete_tagged("sub:u") == 1  # the expired record's tag went with it


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_redis_lock_is_exclusive(redis_server: RedisServer | None) -> None:
    if redis_server is None:
        pytest.skip("redis-server is not installed")
    store = store_from_url(redis_server.url)
    order: list[str] = []

    async def worker(name: str) -> None:
        async with store.lock("refresh:s1", 5) as acquired:
            assert acquired
            order.append(f"{name}-in")
            await asyncio.sleep(0.05)
            order.append(f"{name}-out")

    try:
        await asyncio.gather(worker("a"), worker("b"))
    finally:
        await store.close()
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])


async def test_redis_serves_every_request_after_a_restart(own_redis: RedisServer) -> None:
    store = store_from_url(own_redis.url)
    try:
        # Fill the pool: after the restart every pooled connection is stale.
        await asyncio.gather(*[store.set(f"s:{i}", b"v", later()) for i in range(8)])
        own_redis.restart()
        results = await asyncio.gather(
            store.get("s:0"),  # the restarted server is empty
            store.set("s:new", b"n", later(), ["sub:u"]),
            store.pop("t:1"),
            store.add("j:1", later()),
            store.delete("s:1"),
            store.delete_tagged("sub:nobody"),
            store.count("s:"),
            store.ping(),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await store.pop("s:new") == b"n"
    finally:
        await store.close()


async def test_redis_down_raises_store_unavailable_within_the_bound(own_redis: RedisServer) -> None:
    store = store_from_url(own_redis.url)
    try:
        await store.ping()
        own_redis.kill()
        for operation in (
            lambda: store.get("s:x"),
            lambda: store.set("s:x", b"v", later(), ["sub:u"]),
            lambda: store.count("s:"),
        ):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await operation()
            assert time.monotonic() - started < redis_store.OPERATION_TIMEOUT
    finally:
        await store.close()


async def test_a_frozen_redis_raises_store_unavailable_within_the_bound(
    own_redis: RedisServer
) -> None:
    store = store_from_url(own_redis.url)
    try:
        await store.ping()
        with own_redis.frozen():
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="did not answer"):
                await store.get("s:x")
            assert time.monotonic() - started < redis_store.OPERATION_TIMEOUT + 1
    finally:
        await store.close()


async def test_redis_lock_acquisition_failure_raises_store_unavailable(
    own_redis: RedisServer
) -> None:
    store = store_from_url(own_redis.url)
    own_redis.kill()
    try:
        with pytest.raises(StoreUnavailable):
            async with store.lock("refresh:s1", 5):
                pytest.fail("the lock body ran without the lock")
    finally:
        await store.close()


async def test_redis_lock_not_granted_within_ttl_yields_false(
    redis_server: RedisServer | None
) -> None:
    if redis_server is None:
        pytest.skip("redis-server is not installed")
    store = store_from_url(redis_server.url)
    try:
        async with store.lock("refresh:s2", 5) as first, store.lock("refresh:s2", 0.1) as second:
            assert (first, second) == (True, False)
        async with store.lock("refresh:s2", 0.1) as third:
            assert third is True  # released on exit
    finally:
        await store.close()


async def test_a_failed_lock_release_does_not_hide_the_outcome(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_from_url(own_redis.url)
    try:
        async with store.lock("refresh:s1", 5) as acquired:
            assert acquired
            own_redis.kill()  # the release fails; the lock would expire by itself
        assert "releasing a Redis lock failed" in caplog.text
        own_redis.start()
        with pytest.raises(ValueError, match="the work's own error"):
            async with store.lock("refresh:s1", 5):
                own_redis.kill()
                raise ValueError("the work's own error")
    finally:
        await store.close()


async def test_closing_a_redis_store_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    class ClientThatCannotDisconnect:
        async def aclose(self) -> None:
            raise RedisConnectionError("Timed out closing connection")

    await redis_store.RedisStore(ClientThatCannotDisconnect()).close()
    assert "closing the Redis client failed: ConnectionError" in caplog.text


async def test_redis_count_pages_through_scan(redis_server: RedisServer | None) -> None:
    if redis_server is None:
        pytest.skip("redis-server is not installed")
    store = store_from_url(redis_server.url)
    assert isinstance(store, redis_store.RedisStore)
    try:
        raw = store._redis
        await raw.flushdb()
        await raw.mset({f"zbff:{{s:{i}}}": b"v" for i in range(2500)})
        # what is not a record of the prefix: another prefix, a record's tags, its lock
        await raw.mset({"zbff:{t:other}": b"v", "zbff:{s:1}:tags": b"v", "zbff:{s:1}:lock": b"v"})
        assert await store.count("s:") == 2500
    finally:
        await store.close()


async def test_sqlite_purge_works_in_batches(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "big.db")
    try:
        past = time.time() - 1
        for i in range(1200):
            await store.set(f"s:{i}", b"v", past, [f"sub:{i}"])
        await store.set("s:live", b"v", later(), ["sub:live"])
        assert await store.purge_expired() == 1200
        assert await store.count("s:") == 1
    finally:
        await store.close()


def _sqlite_store(path: Path, change_check: str) -> SQLiteStore:
    """A file store noticing other connections' commits by its WAL index (the default) or,
    as without a ``-shm`` file to map, by ``PRAGMA data_version``."""
    store = SQLiteStore(path)
    if change_check == "pragma":
        assert store._shm is not None
        store._shm.close()
        store._shm = None
    return store


@pytest.mark.parametrize(
    ("change_check", "per_read"), [("wal-index", []), ("pragma", ["PRAGMA data_version"])]
)
async def test_sqlite_repeated_reads_of_an_unchanged_file_skip_the_query(
    tmp_path: Path, change_check: str, per_read: list[str]
) -> None:
    store = _sqlite_store(tmp_path / "s.db", change_check)
    try:
        await store.set("s:a", b"v", later())
        await store.get("s:a")  # read once: remembered
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        entry = await store.get("s:a")
        assert entry is not None and entry.value == b"v"
        assert await store.get_and_touch("s:a", later(), 60) is not None
        assert statements == per_read * 2
    finally:
        await store.close()


@pytest.mark.parametrize("change_check", ["wal-index", "pragma"])
async def test_sqlite_reads_see_every_commit_of_other_processes(
    tmp_path: Path, change_check: str
) -> None:
    """Other workers and ``zitadel-bff sessions`` write through connections of their own."""
    ours = _sqlite_store(tmp_path / "s.db", change_check)
    theirs = SQLiteStore(tmp_path / "s.db")
    try:
        expiry = later()
        await ours.set("s:a", b"v1", expiry, ["sub:u"])
        await ours.set("s:b", b"v1", expiry)
        assert await ours.get("s:a") == (b"v1", expiry)
        await theirs.update("s:a", b"v2")
        assert await ours.get("s:a") == (b"v2", expiry)
        await theirs.touch("s:a", expiry + 100)
        assert await ours.get_and_touch("s:a", expiry + 100, 60) == (b"v2", expiry + 100)
        await theirs.delete_tagged("sub:u")
        assert await ours.get("s:a") is None
        assert await ours.get("s:b") == (b"v1", expiry)
        with closing(sqlite3.connect(tmp_path / "s.db")) as other, other:
            other.execute("DELETE FROM records")
        assert await ours.get("s:b") is None
        await theirs.set("s:c", b"v1", expiry)
        assert await ours.get("s:c") == (b"v1", expiry)
        with closing(sqlite3.connect(tmp_path / "s.db")) as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL starts over
            with other:
                other.execute("UPDATE records SET value = x'7632' WHERE key = 's:c'")
        assert await ours.get("s:c") == (b"v2", expiry)
    finally:
        await ours.close()
        await theirs.close()


def test_only_a_wal_index_in_the_documented_format_is_mapped(tmp_path: Path) -> None:
    assert sqlite_store._map_wal_index(str(tmp_path / "none.db")) is None  # no -shm file
    (tmp_path / "empty.db-shm").write_bytes(b"")
    assert sqlite_store._map_wal_index(str(tmp_path / "empty.db")) is None
    (tmp_path / "zeros.db-shm").write_bytes(bytes(32768))  # not SQLite's format
    assert sqlite_store._map_wal_index(str(tmp_path / "zeros.db")) is None
    store = SQLiteStore(tmp_path / "real.db")
    try:
        assert store._shm is not None
    finally:
        asyncio.run(store.close())


async def test_sqlite_vouches_for_a_remembered_record_only_while_the_file_is_unchanged(
    tmp_path: Path,
) -> None:
    ours, theirs = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    try:
        expiry = later()
        await ours.set("s:a", b"v1", expiry)
        assert ours.peek("s:a", expiry, 60) is None  # never read: nothing remembered
        await ours.get("s:a")
        assert ours.peek("s:a", expiry, 60) == (b"v1", expiry)
        assert ours.peek("s:a", expiry + 60, 60) is None  # its expiry is due to move
        await theirs.update("s:a", b"v2")
        assert ours.peek("s:a", expiry, 60) is None  # another connection committed
        assert await ours.get("s:a") == (b"v2", expiry)
        assert ours.peek("s:a", expiry, 60) == (b"v2", expiry)
    finally:
        await ours.close()
        await theirs.close()


async def test_sqlite_reads_see_the_stores_own_writes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        expiry = later()
        await store.set("s:a", b"v1", expiry)
        assert await store.get("s:a") == (b"v1", expiry)
        await store.update("s:a", b"v2")
        assert await store.get("s:a") == (b"v2", expiry)
        await store.touch("s:a", expiry + 100)
        assert await store.get("s:a") == (b"v2", expiry + 100)
        await store.set("s:a", b"v3", expiry)
        assert await store.get("s:a") == (b"v3", expiry)
        assert await store.pop("s:a") == b"v3"
        assert await store.get("s:a") is None
    finally:
        await store.close()


async def test_a_remembered_sqlite_record_still_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        now = time.time()
        await store.set("s:a", b"v", now + 10)
        assert await store.get("s:a") is not None  # remembered
        clock = SimpleNamespace(time=lambda: now + 10, monotonic=time.monotonic)
        monkeypatch.setattr(sqlite_store, "time", clock)
        assert await store.get("s:a") is None
    finally:
        await store.close()


async def test_a_sqlite_write_that_fails_halfway_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        with closing(sqlite3.connect(tmp_path / "s.db")) as other, other:
            # The tag insert fails after the record was written (as a full disk would).
            other.execute(
                "CREATE TRIGGER no_tags BEFORE INSERT ON tags "
                "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        with pytest.raises(StoreUnavailable) as info:
            await store.set("s:a", b"v", later(), ["sub:u"])
        assert str(info.value) == "SQLite store error: disk I/O error"
        assert await store.get("s:a") is None  # rolled back with the failed tag
        await store.set("s:b", b"v", later())  # and the store goes on working
        assert await store.count("s:") == 1
    finally:
        await store.close()


async def test_a_closed_sqlite_store_raises_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.close()
    with pytest.raises(StoreUnavailable) as info:
        await store.get("s:a")
    assert str(info.value) == "SQLite store error: Cannot operate on a closed database."


async def test_unreachable_redis_raises_store_unavailable() -> None:
    from devtools.provider import free_port

    store = store_from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StoreUnavailable):
            await store.get("s:x")
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.close()


# Places no process can use, root included (the tests run as root in CI): a regular file
# where a directory must be, a directory where the database file must be, a file that is no
# database.
UNUSABLE_SQLITE_PATHS = {
    "parent is a file": (
        "file.txt/sessions.db",
        r"cannot create directory \S+/file.txt: a file of that name exists$",
    ),
    "grandparent is a file": (
        "file.txt/sub/sessions.db",
        r"cannot create directory \S+/file.txt/sub: not a directory$",
    ),
    "database is a directory": (
        "dir.db",
        r"cannot open SQLite database \S+/dir.db: is a directory$",
    ),
    "database is no database": (
        "junk.db",
        r"cannot open SQLite database \S+/junk.db: file is not a database$",
    ),
}


@pytest.mark.parametrize(
    ("name", "expected"), UNUSABLE_SQLITE_PATHS.values(), ids=list(UNUSABLE_SQLITE_PATHS)
)
def test_sqlite_in_an_unwritable_place_raises_store_unavailable(
    tmp_path: Path, name: str, expected: str
) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir.db").mkdir()
    (tmp_path / "junk.db").write_bytes(b"not an SQLite database, but long enough to be read" * 4)
    with pytest.raises(StoreUnavailable, match=expected):
        SQLiteStore(tmp_path / name)


UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
OPEN_STORE = (
    "import sys; from zitadel_bff.sessions.stores import SQLiteStore; SQLiteStore(sys.argv[1])"
)


def test_sqlite_in_a_read_only_directory_says_permission_denied() -> None:
    """Root writes anywhere, so the store is opened by an unprivileged user (nobody)."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop privileges")
    parent = Path(tempfile.mkdtemp())
    parent.chmod(0o555)  # anyone may enter and read, nobody but root may write
    try:
        command = [*(UNPRIVILEGED if os.geteuid() == 0 else []), sys.executable, "-c",
                   OPEN_STORE, str(parent / "sessions.db")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last == (
            "zitadel_bff.errors.StoreUnavailable: cannot open SQLite database "
            f"{parent / 'sessions.db'}: permission denied"
        )
    finally:
        parent.chmod(0o700)
        shutil.rmtree(parent)


@pytest.mark.parametrize("url", ["sqlite://x.db", "sqlite:///", "sqlite://"])
def test_sqlite_url_without_a_file_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"sqlite:///relative/path\.db or sqlite:////"):
        store_from_url(url)
    assert list(tmp_path.iterdir()) == []  # no directory named "sqlite:"


def test_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        store_from_url("mysql://x")


def test_app_with_unreachable_redis_shows_503_pages(
    start_app: AppFactory, client: httpx.Client
) -> None:
    from devtools.flows import form_token
    from devtools.provider import free_port

    app = start_app(session_store=f"redis://127.0.0.1:{free_port()}/0")
    assert client.get(app.url + "/readyz").status_code == 503
    token = form_token(client, app.url)
    resp = client.post(app.url + "/auth/signin", data={"csrf_token": token})
    assert resp.status_code == 503 and "Sessions are unavailable" in resp.text
    client.cookies.set("zbff_session", "x" * 43)
    page = client.get(app.url + "/profile")
    assert page.status_code == 503
    api = client.get(app.url + "/profile", headers={"accept": "application/json"})
    assert api.status_code == 503 and api.json()["error"] == "store_unavailable"
