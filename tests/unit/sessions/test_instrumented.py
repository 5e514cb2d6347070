"""InstrumentedStore: every operation of the store under it is timed into the store-latency
histogram, and what the store answers comes back unchanged."""

from __future__ import annotations

import time

from prometheus_client import generate_latest

from zitadel_bff.observability import Metrics
from zitadel_bff.sessions import MemoryStore
from zitadel_bff.sessions.stores import InstrumentedStore


def counts(metrics: Metrics) -> dict[str, float]:
    prefix = "zitadel_bff_store_operation_duration_seconds_count{operation="
    found = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(prefix):
            name, value = line.removeprefix(prefix).split("} ")
            found[name.strip('"')] = float(value)
    return found


async def test_every_operation_is_timed_and_answered_unchanged() -> None:
    metrics = Metrics()
    store = InstrumentedStore(MemoryStore(), metrics)
    later = time.time() + 60
    await store.set("s:a", b"v", later, ["sub:u"])
    entry = await store.get("s:a")
    assert entry is not None and entry.value == b"v"
    touched = await store.get_and_touch("s:a", later + 600, 10)
    assert touched is not None and touched.expires_at == later + 600
    assert await store.update("s:a", b"w") is True
    assert await store.touch("s:a", later) is True
    assert await store.count("s:") == 1
    assert await store.add("jti:x", later) is True
    assert await store.pop("jti:x") == b""
    assert await store.delete_tagged("sub:u") == 1
    assert await store.delete("s:a") is False
    assert await store.purge_expired() == 0
    await store.ping()
    async with store.lock("s:a", 1) as held:
        assert held is True
    await store.close()
    assert counts(metrics) == {
        operation: 1.0
        for operation in (
            "get", "get_and_touch", "set", "update", "touch", "delete", "pop", "add",
            "delete_tagged", "count", "purge_expired", "ping", "lock",
        )
    }
