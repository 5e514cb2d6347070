"""``zitadel-bff serve --workers 2``: processes on one port share sessions and refresh each
session's tokens once, on SQLite (a lock row in the file) and on Redis; their metrics add up."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from devtools.flows import login
from devtools.provider import OPProcess, free_port

from tests.support.clients import browser_client, session_cookie
from tests.support.redis import RedisServer, redis_required
from tests.support.serve import Served, serve_env

# As in test_refresh: the short provider's 4 s tokens are due 2 s after they were issued.
DUE = 2.2
LONG = 43200
REQUESTS = 12


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if not RedisServer.available():
        if redis_required():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server.url
    server.stop()


def metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in the scrape")


PER_WORKER = REQUESTS // 2
MAX_CONNECTIONS = 200


def pid_of(app: Served, request_id: str) -> int:
    """The worker that served ``request_id``, from its JSON access line."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in app.output().splitlines():
            entry = json.loads(line)
            if entry.get("request_id") == request_id:
                return int(entry["pid"])
        time.sleep(0.02)
    raise AssertionError(f"no access line for request {request_id}")


async def connections_to_each_worker(app: Served, cookie: str) -> list[httpx.AsyncClient]:
    """``PER_WORKER`` kept-alive connections to each of the two workers (which process
    accepts a connection is the kernel's choice: open them until both have enough)."""
    by_pid: dict[int, list[httpx.AsyncClient]] = {}
    spare: list[httpx.AsyncClient] = []
    for _ in range(MAX_CONNECTIONS):
        client = httpx.AsyncClient(
            cookies={"zbff_session": cookie}, limits=httpx.Limits(max_connections=1)
        )
        resp = await client.get(app.url + "/healthz")
        clients = by_pid.setdefault(pid_of(app, resp.headers["x-request-id"]), [])
        (clients if len(clients) < PER_WORKER else spare).append(client)
        if len(by_pid) == 2 and all(len(c) == PER_WORKER for c in by_pid.values()):
            break
    for client in spare:
        await client.aclose()
    assert sorted(len(c) for c in by_pid.values()) == [PER_WORKER, PER_WORKER]
    return [client for clients in by_pid.values() for client in clients]


def burst_on_both_workers(app: Served, cookie: str) -> list[int]:
    """At token expiry: ``REQUESTS`` requests at once, half on each worker."""

    async def run() -> list[int]:
        clients = await connections_to_each_worker(app, cookie)
        try:
            await asyncio.sleep(DUE)  # the session's tokens come due (real tokens, real time)
            responses = await asyncio.gather(*[
                c.get(app.url + "/auth/userinfo", headers={"accept": "application/json"})
                for c in clients
            ])
        finally:
            for client in clients:
                await client.aclose()
        return [r.status_code for r in responses]

    return asyncio.run(run())


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_workers_refresh_a_session_once(
    backend: str,
    short_op: OPProcess,
    port_pool: queue.Queue[int],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    store = (
        f"sqlite:///{tmp_path}/workers.db" if backend == "sqlite"
        else request.getfixturevalue("redis_url")
    )
    port, metrics_port = port_pool.get_nowait(), free_port()
    env = serve_env(short_op.issuer, port, store, LOG_FORMAT="json",
                    METRICS_PORT=str(metrics_port))
    try:
        with Served(env, tmp_path, "--workers", "2") as app:
            with browser_client() as client:
                login(client, app.url)
                cookie = session_cookie(client)
            with short_op.access_token_ttl(LONG):
                short_op.reset_stats()
                statuses = burst_on_both_workers(app, cookie)
                refreshes = short_op.stats()["token_requests"]["refresh_token"]
            scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            output = app.output()
    finally:
        port_pool.put(port)
    assert statuses == [200] * REQUESTS
    # A second refresh would reuse a rotated refresh token, which this provider answers by
    # revoking the grant: one grant and every request served is single flight.
    assert refreshes == 1
    assert metric(scrape, 'zitadel_bff_refreshes_total{outcome="success"}') == 1.0
    assert metric(scrape, "zitadel_bff_sign_ins_total") == 1.0
    assert "Traceback" not in output


def test_workers_must_be_at_least_one(op: OPProcess, tmp_path: Path) -> None:
    import subprocess

    from tests.support.serve import BIN

    env = serve_env(op.issuer, 1, f"sqlite:///{tmp_path}/x.db")
    result = subprocess.run([str(BIN), "serve", "--workers", "0"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "argument --workers: must be at least 1" in result.stderr
