"""``python -m bench.redis_hot``: the Redis session read with the store's lean channel against
the same store on redis-py's client alone, in interleaved rounds on one redis-server.

Per variant and round: the latency of ``store.get_and_touch`` and of ``SessionManager.load``
(p50/p99 of 20,000 sequential reads of random sessions out of 1,000), the process's CPU time
per read over those reads, and reads per second with 16 coroutines reading at once. The
records are real sealed sessions of 1,500 bytes (bench/stores.py's ``Records``), the event
loop uvloop's.

``--placement`` pins the processes, to show what the operating system's choice does to a
loopback round trip: ``same`` puts this process and redis-server on CPU 0, ``split`` puts
them on CPUs 0 and 1, ``free`` (the default) lets the scheduler choose, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvloop

from zitadel_bff.sessions import SessionManager
from zitadel_bff.sessions.stores.redis import RedisStore

from .servers import free_port
from .stores import IDLE_TIMEOUT, MAX_LIFETIME, Records

SESSIONS = 1000
READS = 20_000
CONCURRENCY = 16
PLACEMENTS = {"free": (None, None), "same": (0, 0), "split": (0, 1)}
START_TIMEOUT = 10.0


class _NoRefresh:
    async def refresh(self, refresh_token: str, *, sub: str) -> Any:
        raise AssertionError("no refresh is due in this benchmark")


@contextlib.contextmanager
def _redis_server(cpu: int | None) -> Iterator[int]:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


async def _sequential(read: Callable[[int], Awaitable[Any]], picks: list[int]
                      ) -> dict[str, float]:
    samples = []
    cpu = time.process_time()
    for i in picks:
        start = time.perf_counter()
        await read(i)
        samples.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    return {"p50_us": round(_pct(samples, 0.5), 1), "p99_us": round(_pct(samples, 0.99), 1),
            "cpu_us": round(cpu / len(picks) * 1e6, 1)}


async def _concurrent(read: Callable[[int], Awaitable[Any]], picks: list[int]
                      ) -> dict[str, float]:
    async def worker(share: list[int]) -> None:
        for i in share:
            await read(i)

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*[worker(picks[n::CONCURRENCY]) for n in range(CONCURRENCY)])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"reads_per_s": round(len(picks) / seconds), "cpu_us": round(cpu / len(picks) * 1e6, 1)}


async def _variant(store: RedisStore, records: Records, picks: list[int]) -> dict[str, Any]:
    manager = SessionManager(store=store, keyring=records.keyring, refresher=_NoRefresh(),
                             idle_timeout=IDLE_TIMEOUT, max_lifetime=MAX_LIFETIME)
    manager.touch_interval = float("inf")  # reads only, as in bench/stores.py
    expires_at = records.now + IDLE_TIMEOUT

    async def get_and_touch(i: int) -> None:
        assert await store.get_and_touch(records.keys[i], expires_at, float("inf"))

    async def load(i: int) -> None:
        assert await manager.load(records.ids[i])

    return {"get_and_touch": await _sequential(get_and_touch, picks),
            "load": await _sequential(load, picks),
            "concurrent_load": await _concurrent(load, picks)}


async def _run(port: int, rounds: int) -> list[dict[str, Any]]:
    records = Records(SESSIONS, None)
    url = f"redis://127.0.0.1:{port}/0"
    channel = RedisStore.from_url(url)
    pool_only = RedisStore.from_url(url)
    pool_only.channel = None  # never connected: redis-py's client runs every read
    try:
        for batch in records.batches(SESSIONS):
            for key, value, tags in batch:
                await channel.set(key, value, records.expires_at, tags)
        rng = random.Random(7)
        picks = [rng.randrange(SESSIONS) for _ in range(READS)]
        out = []
        for number in range(1, rounds + 1):
            for name, store in (("channel", channel), ("redis-py", pool_only)):
                result = await _variant(store, records, picks)
                out.append({"round": number, "variant": name, **result})
                _print(out[-1])
        assert channel.channel is not None and channel.channel.connections == 1
        return out
    finally:
        await channel.close()
        await pool_only.close()


def _print(row: dict[str, Any]) -> None:
    get, load, conc = row["get_and_touch"], row["load"], row["concurrent_load"]
    print(f"  round {row['round']} {row['variant']:<8}  get_and_touch p50 {get['p50_us']:>6} "
          f"p99 {get['p99_us']:>6} cpu {get['cpu_us']:>5} us | load p50 {load['p50_us']:>6} "
          f"p99 {load['p99_us']:>6} cpu {load['cpu_us']:>5} us | 16 at once "
          f"{conc['reads_per_s']:>6}/s cpu {conc['cpu_us']:>5} us", flush=True)


def _summary(rows: list[dict[str, Any]]) -> None:
    print("  ranges over the rounds (min-max):")
    for variant in ("channel", "redis-py"):
        mine = [r for r in rows if r["variant"] == variant]

        def span(path: tuple[str, str], rows: list[dict[str, Any]] = mine) -> str:
            values = [r[path[0]][path[1]] for r in rows]
            return f"{min(values):g}-{max(values):g}"

        print(f"  {variant:<8} load p50 {span(('load', 'p50_us'))} us, "
              f"p99 {span(('load', 'p99_us'))} us, cpu/read {span(('load', 'cpu_us'))} us; "
              f"get_and_touch p50 {span(('get_and_touch', 'p50_us'))} us; "
              f"16 at once {span(('concurrent_load', 'reads_per_s'))} reads/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--placement", choices=list(PLACEMENTS), default="free")
    args = parser.parse_args()
    server_cpu, own_cpu = PLACEMENTS[args.placement]
    if own_cpu is not None:
        os.sched_setaffinity(0, {own_cpu})
    print(f"- Redis hot path, {SESSIONS:,} sessions, {READS:,} reads per measure, "
          f"placement {args.placement}", flush=True)
    with _redis_server(server_cpu) as port, asyncio.Runner(
            loop_factory=uvloop.new_event_loop) as runner:
        rows = runner.run(_run(port, args.rounds))
    _summary(rows)


if __name__ == "__main__":
    main()
