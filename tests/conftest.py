"""Shared fixtures: one test provider per session, app servers on real loopback ports."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools.provider import OPProcess, free_port

from tests.support import redis_ha
from tests.support.clients import browser_client
from tests.support.redis import redis_required
from tests.support.redis_ha import Cluster, SentinelSet
from tests.support.server import AppFactory, ThreadedServer
from tests.support.settings import settings_for
from tests.support.upstream import Echo
from zitadel_bff.app import create_app

APP_PORTS = 6


@pytest.fixture(scope="session")
def port_pool() -> queue.Queue[int]:
    pool: queue.Queue[int] = queue.Queue()
    for _ in range(APP_PORTS):
        pool.put(free_port())
    return pool


@pytest.fixture(scope="session")
def app_ports(port_pool: queue.Queue[int]) -> list[int]:
    return list(port_pool.queue)


@pytest.fixture(scope="session")
def op(app_ports: list[int]) -> Iterator[OPProcess]:
    proc = OPProcess(port=free_port(), app_ports=app_ports, backchannel_port=app_ports[0]).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def short_op(app_ports: list[int]) -> Iterator[OPProcess]:
    """A second provider whose access tokens live 4 s (refresh is due after 2 s)."""
    proc = OPProcess(
        port=free_port(), app_ports=app_ports, env={"OP_ACCESS_TOKEN_TTL": "4"}
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """One Sentinel set per test session: a master, a replica, three sentinels."""
    if not redis_ha.available():
        if redis_required():
            pytest.fail("redis-server is not installed but REDIS_REQUIRED/E2E_REQUIRED is set")
        pytest.skip("redis-server is not installed")
    topology = SentinelSet(tmp_path_factory.mktemp("sentinel")).start()
    yield topology
    topology.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One Redis Cluster per test session: three masters."""
    if not redis_ha.available():
        if redis_required():
            pytest.fail("redis-server is not installed but REDIS_REQUIRED/E2E_REQUIRED is set")
        pytest.skip("redis-server is not installed")
    topology = Cluster(tmp_path_factory.mktemp("cluster")).start()
    yield topology
    topology.stop()


@pytest.fixture
def start_app(port_pool: queue.Queue[int], op: OPProcess, tmp_path: Path) -> Iterator[AppFactory]:
    """Start an app (its own SQLite file) on a pool port; ``issuer`` picks another provider."""
    started: list[ThreadedServer] = []
    borrowed: list[int] = []

    def start(
        *, issuer: str | None = None, port: int | None = None, **overrides: Any
    ) -> ThreadedServer:
        if port is None:
            port = port_pool.get_nowait()
            borrowed.append(port)
        store = overrides.pop("session_store", f"sqlite:///{tmp_path}/sessions-{port}.db")
        settings = settings_for(port, issuer or op.issuer, store, **overrides)
        server = ThreadedServer(create_app(settings), port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    for port in borrowed:
        port_pool.put(port)


@pytest.fixture
def app(
    start_app: AppFactory, app_ports: list[int], port_pool: queue.Queue[int]
) -> Iterator[ThreadedServer]:
    """The standard app on the port the provider sends back-channel logouts to."""
    # Take the back-channel port out of the pool for this test.
    taken: list[int] = []
    while True:
        port = port_pool.get_nowait()
        if port == app_ports[0]:
            break
        taken.append(port)
    for other in taken:
        port_pool.put(other)
    server = start_app(port=port)
    yield server
    port_pool.put(port)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A browser for one test (see tests.support.clients.browser_client for more)."""
    with browser_client() as c:
        yield c


@pytest.fixture(scope="session")
def echo_server() -> Iterator[Echo]:
    upstream = Echo()
    yield upstream
    upstream.stop()


@pytest.fixture
def echo(echo_server: Echo) -> Echo:
    """The echo upstream (devtools/demo_api.py), with nothing received yet."""
    echo_server.received.clear()
    return echo_server
