"""Liveness and readiness, in-process: readiness follows the store and the provider."""

from __future__ import annotations

from typing import Any

from tests.support.inprocess import (
    Browser,
    FakeProvider,
    ManualClock,
    host_app,
    module_for,
    running,
)
from zitadel_bff import MemoryStore, StoreUnavailable


class BrokenStore(MemoryStore):
    """A store that cannot be reached (a Redis that went away)."""

    async def ping(self) -> None:
        raise StoreUnavailable("Redis store error: ConnectionError")


async def test_healthz_answers_while_the_process_runs(browser: Browser) -> None:
    resp = await browser.http.get("/healthz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


def without_latency(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each check's latency checked (a number of ms) and taken out."""
    checks = body.pop("checks")
    for check in checks.values():
        assert isinstance(check.pop("latency_ms"), float)
    return {**body, "checks": checks}


async def test_ready_when_the_store_answers_and_discovery_is_loaded(browser: Browser) -> None:
    resp = await browser.http.get("/readyz")
    assert (resp.status_code, without_latency(resp.json())) == (
        200,
        {
            "status": "ok",
            "store": "ok",
            "provider": "ok",
            "checks": {"store": {"status": "ok"}, "provider": {"status": "ok"}},
        },
    )


async def test_not_ready_while_the_store_is_unreachable(
    provider: FakeProvider, clock: ManualClock
) -> None:
    async with running(host_app(module_for(provider, store=BrokenStore())), clock) as browser:
        resp = await browser.http.get("/readyz")
        assert (resp.status_code, without_latency(resp.json())) == (
            503,
            {
                "status": "unavailable",
                "error": "store_unavailable",
                "store": "store_unavailable",
                "provider": "ok",
                "checks": {
                    "store": {"status": "unavailable", "error": "store_unavailable"},
                    "provider": {"status": "ok"},
                },
            },
        )
        assert (await browser.http.get("/healthz")).status_code == 200


async def test_not_ready_until_discovery_loads(clock: ManualClock) -> None:
    provider = FakeProvider(down=True)
    async with running(host_app(module_for(provider)), clock) as browser:
        resp = await browser.http.get("/readyz")
        body = without_latency(resp.json())
        assert (resp.status_code, body["status"], body["error"]) == (
            503, "unavailable", "provider_unavailable"
        )
        assert (body["store"], body["provider"]) == ("ok", "provider_unavailable")
        provider.down = False  # the provider is back: the next probe loads discovery
        ready = await browser.http.get("/readyz")
        assert (ready.status_code, ready.json()["status"]) == (200, "ok")
