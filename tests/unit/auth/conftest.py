"""Fixtures for the auth module in-process: a clock, a scripted provider, a running host app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.inprocess import (
    Browser,
    FakeProvider,
    ManualClock,
    host_app,
    module_for,
    running,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def browser(provider: FakeProvider, clock: ManualClock) -> AsyncIterator[Browser]:
    """A browser on the README's host app (deny by default, the module's error pages)."""
    async with running(host_app(module_for(provider)), clock) as started:
        yield started
