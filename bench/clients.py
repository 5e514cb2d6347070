"""Which async HTTP client should the proxy use? ``python -m bench.clients``

Each installed candidate (httpx, aiohttp, aiosonic, pyreqwest, and the proxy's own
``zitadel_bff.web.http1``) fetches a small JSON answer from
nginx (a C server, so the time measured is the client's) over a pooled keep-alive connection
set, from one uvloop event loop: CPU time per request (what a proxy pays for its client) and
requests per second at 16 concurrent requests; then one 100 MB streamed download (MB/s).
Candidates that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from .servers import ROOT, free_port

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.nginx import NginxProcess

__all__ = ["main", "run_clients"]

SMALL = '{"id":42,"name":"order","items":[1,2,3]}'
BIG_BYTES = 100 * 1024 * 1024
CONCURRENCY = 16
CHUNK = 64 * 1024

NGINX_HTTP = """
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        location = /small {{ default_type application/json; return 200 '{small}'; }}
        location = /big {{ alias {big}; }}
    }}
"""

Fetch = Callable[[str], Awaitable[int]]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _httpx(count: int, small: str, big: str) -> dict[str, float]:
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits) as client:

        async def fetch(url: str) -> int:
            async with client.stream("GET", url) as resp:
                return sum([len(c) async for c in resp.aiter_raw()])

        return await _measure(fetch, count, small, big)


async def _aiohttp(count: int, small: str, big: str) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def fetch(url: str) -> int:
            async with session.get(url) as resp:
                return sum([len(c) async for c in resp.content.iter_any()])

        return await _measure(fetch, count, small, big)


async def _aiosonic(count: int, small: str, big: str) -> dict[str, float]:
    import aiosonic  # type: ignore[import-not-found]

    client = aiosonic.HTTPClient(aiosonic.TCPConnector())

    async def fetch(url: str) -> int:
        resp = await client.get(url)
        if url.endswith("/big"):
            return sum([len(c) async for c in resp.read_chunks()])
        return len(await resp.content())

    return await _measure(fetch, count, small, big)


async def _pyreqwest(count: int, small: str, big: str) -> dict[str, float]:
    from pyreqwest.client import ClientBuilder  # type: ignore[import-not-found]

    async with ClientBuilder().max_connections(CONCURRENCY).build() as client:

        async def fetch(url: str) -> int:
            async with client.get(url).build_streamed() as resp:
                total = 0
                while (chunk := await resp.body_reader.read_chunk()) is not None:
                    total += len(chunk)
                return total

        return await _measure(fetch, count, small, big)


async def _http1(count: int, small: str, big: str) -> dict[str, float]:
    from zitadel_bff.web.http1 import ConnectionPool

    pool = ConnectionPool()
    heads: dict[str, tuple[str, bytes]] = {}
    for url in (small, big):
        origin, _, path = url.partition("://")[2].partition("/")
        heads[url] = ("http://" + origin, ConnectionPool.head_for(b"GET", f"/{path}".encode(), []))

    async def fetch(url: str) -> int:
        origin, head = heads[url]
        resp = await pool.request(origin, head)
        try:
            total = 0
            while chunk := await resp.read():
                total += len(chunk)
            return total
        finally:
            resp.release()

    try:
        return await _measure(fetch, count, small, big)
    finally:
        await pool.close()


CANDIDATES: dict[str, Callable[[int, str, str], Coroutine[Any, Any, dict[str, float]]]] = {
    "httpx": _httpx,
    "aiohttp": _aiohttp,
    "aiosonic": _aiosonic,
    "pyreqwest": _pyreqwest,
    "zitadel_bff.web.http1": _http1,
}


async def _measure(fetch: Fetch, count: int, small: str, big: str) -> dict[str, float]:
    for _ in range(200):  # warm the pool
        await fetch(small)
    cpu, start = _cpu(), time.perf_counter()
    for _ in range(count):
        await fetch(small)
    sequential_cpu = (_cpu() - cpu) / count

    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            await fetch(small)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    concurrent = count / (time.perf_counter() - start)

    start = time.perf_counter()
    size = await fetch(big)
    assert size == BIG_BYTES, size
    big_seconds = time.perf_counter() - start
    return {
        "cpu_us_per_request": round(sequential_cpu * 1e6, 1),
        "rps_16_concurrent": round(concurrent),
        "download_mb_s": round(BIG_BYTES / big_seconds / 1e6),
    }


def _version(name: str) -> str:
    from importlib.metadata import version

    return version("zitadel-bff" if name.startswith("zitadel_bff") else name)


def run_clients(count: int, workdir: Path) -> dict[str, Any]:
    import uvloop

    big = workdir / "big.bin"
    with big.open("wb") as out:
        out.truncate(BIG_BYTES)
    port = free_port()
    nginx = NginxProcess(
        NGINX_HTTP.format(port=port, small=SMALL, big=big), workdir / "nginx", [port]
    ).start()
    results: dict[str, Any] = {}
    try:
        small, big_url = f"http://127.0.0.1:{port}/small", f"http://127.0.0.1:{port}/big"
        for name, run in CANDIDATES.items():
            if importlib.util.find_spec(name) is None:
                print(f"- {name}: not installed, skipped", flush=True)
                continue
            try:
                result: dict[str, Any] = uvloop.run(run(count, small, big_url))
            except Exception as exc:  # a candidate that breaks is reported, not fatal
                result = {"failed": f"{type(exc).__name__}: {exc}"}
            results[name] = {"version": _version(name), **result}
            print(f"- {name} {results[name]}", flush=True)
    finally:
        nginx.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zbff-clients-") as tmp:
        print(json.dumps(run_clients(args.requests, Path(tmp)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
