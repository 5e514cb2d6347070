"""Browser fixtures: one Chromium for all browser tests, a fresh context (and page) per test.

Plain Playwright (sync API), no pytest-playwright. Without /usr/bin/chromium the e2e tests skip,
unless E2E_REQUIRED is set: then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.browser import CHROMIUM, DESKTOP, PHONE_CONTEXT, TIMEOUT_MS, Watch, launch


# One browser for the whole browser run. Package scope, not session: while Playwright's sync API
# is open it marks an asyncio loop as running on the main thread, which would break every later
# asyncio.run() (the integration and unit tests collected after tests/e2e).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("E2E_REQUIRED"):
            pytest.fail(f"E2E_REQUIRED is set but there is {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def watch(app_ports: list[int]) -> Watch:
    return Watch(app_ports)


def watched_context(browser: Browser, watch: Watch, **options: Any) -> Iterator[BrowserContext]:
    ctx = browser.new_context(**options)
    ctx.set_default_timeout(TIMEOUT_MS)
    watch.attach(ctx)
    yield ctx
    ctx.close()
    watch.check()


@pytest.fixture
def context(browser: Browser, watch: Watch) -> Iterator[BrowserContext]:
    """A fresh context; after the test, no page of the app may have shown a problem."""
    yield from watched_context(browser, watch, viewport=DESKTOP)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def phone_context(browser: Browser, watch: Watch) -> Iterator[BrowserContext]:
    """Like ``context``, as a phone: 390 px wide, mobile viewport rules, touch."""
    yield from watched_context(browser, watch, **PHONE_CONTEXT)


@pytest.fixture
def phone(phone_context: BrowserContext) -> Page:
    return phone_context.new_page()
