"""The Redis store's lean hot-path channel against real redis-servers, on both event loops the
app runs on (asyncio's, and uvloop's in production): pipelined calls get their own answers,
it reconnects after a restart, a frozen server fails calls within the bound, NOSCRIPT, AUTH,
SELECT, TLS, Sentinel and error replies.

``channel_only`` makes a test fail when a read falls back to redis-py's client, so that a
test of the channel cannot pass on the fallback alone.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import uvloop
from redis import asyncio as aioredis

from tests.support.broken import closed_port, write_self_signed
from tests.support.redis import RedisServer, redis_required
from tests.support.redis_ha import Cluster, SentinelSet
from zitadel_bff.errors import StoreUnavailable
from zitadel_bff.sessions.stores.redis import GET_AND_TOUCH_SCRIPT, RedisStore
from zitadel_bff.sessions.stores.redis_channel import ChannelUnavailable, ScriptChannel

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}
#: A short bound for the tests that wait for it to pass.
SHORT_TIMEOUT = 1.0
PASSWORD = "s3cret-for-tests"
WRONG_PASSWORD = "not-the-password-4711"
#: Polls of a condition that a few loop iterations make true (never a wait for time).
MAX_SPINS = 10_000


@pytest.fixture(params=list(LOOPS))
def run(request: pytest.FixtureRequest) -> Run[Any]:
    """Runs a coroutine to completion on a new event loop of the parametrized kind."""

    def run(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=LOOPS[request.param]) as runner:
            return runner.run(coro)

    return run


def _server(*options: str, tls: bool = False) -> Iterator[RedisServer]:
    if not RedisServer.available():
        if redis_required():
            pytest.fail("redis-server is not installed but REDIS_REQUIRED/E2E_REQUIRED is set")
        pytest.skip("redis-server is not installed")
    server = RedisServer(*options, tls=tls).start()
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may kill, restart or freeze."""
    yield from _server()


@pytest.fixture
def locked_redis() -> Iterator[RedisServer]:
    yield from _server("--requirepass", PASSWORD)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, Path]]:
    """A redis-server speaking only TLS, with a self-signed certificate for 127.0.0.1."""
    cert, key = write_self_signed(tmp_path)
    options = ("--tls-cert-file", str(cert), "--tls-key-file", str(key),
               "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no")
    for server in _server(*options, tls=True):
        yield server, cert


async def refuse_client(*args: object) -> None:
    raise AssertionError("a hot-path read went to redis-py's client")


def channel_only(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> ScriptChannel:
    """The store's channel; a hot-path read that falls back to redis-py fails the test."""
    monkeypatch.setattr(store, "_run_on_client", refuse_client)
    assert store.channel is not None
    return store.channel


def later(seconds: float = 600) -> float:
    return time.time() + seconds


async def read(store: RedisStore, key: str) -> bytes | None:
    entry = await store.get_and_touch(key, later(), 60)
    return entry.value if entry is not None else None


async def spin_until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition()`` holds (a few loop iterations)."""
    for _ in range(MAX_SPINS):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def test_pipelined_calls_each_get_their_own_answer(
    run: Run[None], own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 reads in flight at once on one connection (the server frozen while they are
    written), a quarter of them cancelled while waiting: every other caller gets its own
    record."""
    count = 64

    async def scenario() -> None:
        store = RedisStore.from_url(own_redis.url)
        try:
            for i in range(count):
                await store.set(f"s:{i}", f"value-{i}".encode(), later(), [f"sub:{i % 3}"])
            channel = channel_only(store, monkeypatch)
            assert await read(store, "s:0") == b"value-0"  # connected
            order = random.Random(4).sample(range(count), count)
            with own_redis.frozen():
                tasks = {i: asyncio.ensure_future(read(store, f"s:{i}")) for i in order}
                await spin_until(lambda: channel.waiting == count)
                cancelled = set(order[::4])
                for i in cancelled:
                    tasks[i].cancel()
            for i, task in tasks.items():
                if i in cancelled:
                    with pytest.raises(asyncio.CancelledError):
                        await task
                else:
                    assert await task == f"value-{i}".encode()
            assert channel.connections == 1 and channel.waiting == 0
        finally:
            await store.close()

    run(scenario())


def test_after_a_restart_reads_succeed_and_the_channel_reconnects(
    run: Run[None], own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        store = RedisStore.from_url(own_redis.url)
        try:
            await asyncio.gather(*[store.set(f"s:{i}", b"old", later()) for i in range(8)])
            assert await read(store, "s:0") == b"old"
            assert store.channel is not None and store.channel.connections == 1
            own_redis.restart()  # the channel's connection is now stale
            results = await asyncio.gather(*[read(store, f"s:{i}") for i in range(8)],
                                           return_exceptions=True)
            assert results == [None] * 8  # the restarted server is empty
            await asyncio.gather(*[store.set(f"s:{i}", b"%d" % i, later()) for i in range(8)])
            channel = channel_only(store, monkeypatch)
            results = await asyncio.gather(*[read(store, f"s:{i}") for i in range(8)])
            assert results == [b"%d" % i for i in range(8)]
            assert channel.connections == 2
        finally:
            await store.close()

    run(scenario())


def test_a_frozen_server_fails_every_waiting_call_within_the_bound(
    run: Run[None], own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        store = RedisStore.from_url(own_redis.url, timeout=SHORT_TIMEOUT)
        try:
            await store.set("s:a", b"v", later())
            channel = channel_only(store, monkeypatch)
            assert await read(store, "s:a") == b"v"
            with own_redis.frozen():
                started = time.monotonic()
                async with asyncio.timeout(SHORT_TIMEOUT + 2):  # a missing bound fails
                    results = await asyncio.gather(*[read(store, "s:a") for _ in range(8)],
                                                   return_exceptions=True)
                waited = time.monotonic() - started
            assert all(isinstance(r, StoreUnavailable) for r in results), results
            assert {str(r) for r in results} == {"Redis did not answer within 1 s"}
            assert SHORT_TIMEOUT - 0.1 <= waited < SHORT_TIMEOUT + 0.5
            assert not channel.connected
            assert await read(store, "s:a") == b"v"  # thawed: a new connection
            assert channel.connections == 2
        finally:
            await store.close()

    run(scenario())


def test_noscript_after_script_flush_still_answers(
    run: Run[None], own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        store = RedisStore.from_url(own_redis.url)
        raw = aioredis.Redis.from_url(own_redis.url)
        try:
            await store.set("s:a", b"v", later())
            channel = channel_only(store, monkeypatch)
            assert await read(store, "s:a") == b"v"  # a new server: NOSCRIPT, then EVAL
            sha = store._get_and_touch_sha
            assert await raw.script_exists(sha) == [True]
            await raw.script_flush()
            assert await read(store, "s:a") == b"v"
            assert await raw.script_exists(sha) == [True]  # EVAL loaded it again
            assert channel.connections == 1
        finally:
            await raw.aclose()
            await store.close()

    run(scenario())


def test_an_error_reply_goes_to_redis_py_and_the_channel_reconnects(
    run: Run[None], own_redis: RedisServer
) -> None:
    async def scenario() -> None:
        store = RedisStore.from_url(own_redis.url)
        raw = aioredis.Redis.from_url(own_redis.url)
        try:
            await raw.rpush("zbff:{s:list}", "not a record")  # GET on it: WRONGTYPE
            with pytest.raises(StoreUnavailable, match=r"^Redis store error: ResponseError$"):
                await read(store, "s:list")
            assert store.channel is not None and not store.channel.connected
            await store.set("s:a", b"v", later())
            assert await read(store, "s:a") == b"v"
            assert store.channel.connected and store.channel.connections == 2
        finally:
            await raw.aclose()
            await store.close()

    run(scenario())


@pytest.mark.parametrize("credentials", ["password", "user"])
def test_auth_and_select_as_the_url_says(
    run: Run[None], locked_redis: RedisServer, monkeypatch: pytest.MonkeyPatch,
    credentials: str,
) -> None:
    base = f"127.0.0.1:{locked_redis.port}"

    async def scenario() -> None:
        raw = aioredis.Redis.from_url(f"redis://:{PASSWORD}@{base}/3")
        await raw.acl_setuser("alice", enabled=True, passwords=["+alice-pw"], keys="*",
                              commands=["+@all"])
        userinfo = f":{PASSWORD}" if credentials == "password" else "alice:alice-pw"
        store = RedisStore.from_url(f"redis://{userinfo}@{base}/3")
        try:
            await store.set("s:a", b"v", later())
            assert await raw.get("zbff:{s:a}") == b"v"  # database 3
            channel = channel_only(store, monkeypatch)
            assert await read(store, "s:a") == b"v"
            assert channel.connections == 1
        finally:
            await raw.aclose()
            await store.close()

    run(scenario())


def test_a_wrong_password_is_a_clear_store_unavailable(
    run: Run[None], locked_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        store = RedisStore.from_url(f"redis://:{WRONG_PASSWORD}@127.0.0.1:{locked_redis.port}/0")
        try:
            with pytest.raises(StoreUnavailable) as info:
                await read(store, "s:a")
            assert str(info.value) == (
                "Redis refused the credentials: "
                "invalid username-password pair or user is disabled."
            )
            assert store.channel is not None and store.channel.connections == 0
        finally:
            await store.close()

    run(scenario())
    assert "Redis hot-path connection failed (AUTH refused: WRONGPASS" in caplog.text
    assert WRONG_PASSWORD not in caplog.text


def test_tls_as_the_url_says(
    run: Run[None], tls_redis: tuple[RedisServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_redis
    trusted = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={cert}"
    untrusted = f"rediss://127.0.0.1:{server.port}/0"
    missing_ca = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={cert.parent}/none.pem"

    async def scenario() -> None:
        store = RedisStore.from_url(trusted)
        try:
            await store.set("s:a", b"v", later())
            channel = channel_only(store, monkeypatch)
            assert await read(store, "s:a") == b"v"
            assert channel.connections == 1
        finally:
            await store.close()
        for url in (untrusted, missing_ca):  # a missing CA file fails reads, not the start
            refused = RedisStore.from_url(url, timeout=SHORT_TIMEOUT)
            try:
                with pytest.raises(StoreUnavailable):
                    await read(refused, "s:a")
                assert refused.channel is not None and refused.channel.connections == 0
            finally:
                await refused.close()

    run(scenario())


def test_sentinel_master_is_followed_through_a_failover(
    redis_sentinel: SentinelSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def before() -> RedisStore:
        store = RedisStore.from_url(redis_sentinel.url)
        await store.set("s:a", b"v", later())
        assert await read(store, "s:a") == b"v"
        assert store.channel is not None and store.channel.connections == 1
        return store

    async def after(store: RedisStore) -> None:
        try:
            # The first read after the failover may find the dead master's connection
            # still open: redis-py's client answers it, asking the sentinels.
            assert await read(store, "s:a") == b"v"
            channel = channel_only(store, monkeypatch)
            assert await read(store, "s:a") == b"v"  # on the new master
            assert channel.connections == 2
        finally:
            await store.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        store = runner.run(before())
        redis_sentinel.fail_over()
        try:
            runner.run(after(store))
        finally:
            redis_sentinel.rejoin()


def test_a_replica_is_refused_where_a_master_is_required(
    run: Run[None], redis_sentinel: SentinelSet, caplog: pytest.LogCaptureFixture
) -> None:
    replica = ("127.0.0.1", redis_sentinel.replica.port)

    async def address() -> tuple[str, int]:
        return replica

    async def no_credentials() -> tuple[str, ...]:
        return ()

    async def scenario() -> None:
        channel = ScriptChannel(GET_AND_TOUCH_SCRIPT, address=address,
                                credentials=no_credentials, require_master=True,
                                connect_timeout=SHORT_TIMEOUT)
        try:
            deadline = asyncio.get_running_loop().time() + SHORT_TIMEOUT
            with pytest.raises(ChannelUnavailable):
                await channel.run(("zbff:{s:a}", "zbff:{s:a}:tags"), (0, 0), deadline)
            assert channel.connections == 0
        finally:
            await channel.close()

    run(scenario())
    assert "the server is a slave, not the master" in caplog.text


def test_cluster_reads_go_to_each_keys_primary(
    run: Run[None], redis_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 30

    async def scenario() -> None:
        store = RedisStore.from_url(redis_cluster.url)
        try:
            for i in range(count):  # redis-py's client maps the slots on its first command
                await store.set(f"s:{i}", b"%d" % i, later(), [f"sub:{i}"])
            assert store.channel is None and store.cluster_channels is not None
            monkeypatch.setattr(store, "_run_on_client", refuse_client)
            results = await asyncio.gather(*[read(store, f"s:{i}") for i in range(count)])
            assert results == [b"%d" % i for i in range(count)]
            channels = store.cluster_channels.channels
            assert len(channels) == 3  # the keys fall on all three primaries
            assert [c.connections for c in channels] == [1, 1, 1]
        finally:
            await store.close()

    run(scenario())


def test_a_stale_slot_map_is_corrected_by_redis_py(
    run: Run[None], redis_cluster: Cluster
) -> None:
    """The slot of a record mapped to the wrong primary (as after a resharding): that node
    answers MOVED, redis-py's client follows it and fixes its map, the next read is routed
    right."""

    async def scenario() -> None:
        store = RedisStore.from_url(redis_cluster.url)
        try:
            await store.set("s:a", b"v", later())
            client: Any = store._redis
            right = client.get_node_from_key("zbff:{s:a}")
            wrong = next(n for n in client.get_primaries() if n.name != right.name)
            client.nodes_manager.slots_cache[client.keyslot("zbff:{s:a}")] = [wrong]
            assert await read(store, "s:a") == b"v"
            assert client.get_node_from_key("zbff:{s:a}").name == right.name
            assert store.cluster_channels is not None
            channel = store.cluster_channels.for_key("zbff:{s:a}")
            assert channel is not None
            assert await read(store, "s:a") == b"v"
            # the wrong node's channel gave its connection up at MOVED; the right one serves
            assert [c.connected for c in store.cluster_channels.channels] == [False, True]
        finally:
            await store.close()

    run(scenario())


@pytest.mark.parametrize(("pause", "attempts"), [(1.0, 1), (0.0, 3)])
def test_after_a_failed_connection_calls_wait_for_the_pause(
    run: Run[None], pause: float, attempts: int
) -> None:
    """Three calls in a row to a port nobody listens on: with a pause, only the first tries
    to connect; without one, each does."""
    port = closed_port()
    tried: list[int] = []

    async def address() -> tuple[str, int]:
        tried.append(port)
        return "127.0.0.1", port

    async def no_credentials() -> tuple[str, ...]:
        return ()

    async def scenario() -> None:
        channel = ScriptChannel(GET_AND_TOUCH_SCRIPT, address=address,
                                credentials=no_credentials, connect_timeout=SHORT_TIMEOUT,
                                reconnect_pause=pause)
        deadline = asyncio.get_running_loop().time() + SHORT_TIMEOUT
        try:
            for _ in range(3):
                with pytest.raises(ChannelUnavailable):
                    await channel.run(("zbff:{s:a}", "zbff:{s:a}:tags"), (0, 0), deadline)
        finally:
            await channel.close()

    run(scenario())
    assert len(tried) == attempts


def test_a_caller_waits_for_a_connection_no_longer_than_its_deadline(run: Run[None]) -> None:
    """Opening a connection may take up to its own bound (a slow sentinel, here one that
    never answers); a call whose deadline comes first fails at its deadline."""

    async def scenario() -> None:
        never = asyncio.Event()

        async def address() -> tuple[str, int]:
            await never.wait()
            raise AssertionError("unreachable")

        async def no_credentials() -> tuple[str, ...]:
            return ()

        channel = ScriptChannel(GET_AND_TOUCH_SCRIPT, address=address,
                                credentials=no_credentials, connect_timeout=60)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            with pytest.raises(TimeoutError):
                await channel.run(("zbff:{s:a}", "zbff:{s:a}:tags"), (0, 0), started + 0.2)
            assert loop.time() - started < 1
        finally:
            await channel.close()

    run(scenario())


def test_a_store_used_on_a_second_event_loop_opens_a_connection_there(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore.from_url(own_redis.url)
    with redis.Redis.from_url(own_redis.url) as raw:
        raw.set("zbff:{s:a}", b"v", px=600_000)
    channel = channel_only(store, monkeypatch)
    assert asyncio.run(read(store, "s:a")) == b"v"
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(read(store, "s:a")) == b"v"
        assert channel.connections == 2
        runner.run(store.close())
